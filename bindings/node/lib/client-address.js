'use strict';
// The client address as a rate-limit key. An IPv6 client usually holds a
// whole prefix (a /64 at least, often a /56 or /48) and can rotate through
// it at will, so an IPv6 address is keyed by its prefix: one bucket per
// /56 by default, as express-rate-limit does. IPv4 addresses (and IPv4
// addresses mapped into IPv6) are keyed as they are.

const { isIPv4, isIPv6 } = require('node:net');
const { describe } = require('./args.js');

/** The eight 16-bit groups of a valid IPv6 address (zone index dropped). */
function groups(address) {
  const zone = address.indexOf('%');
  let text = zone === -1 ? address : address.slice(0, zone);
  // A trailing dotted IPv4 part is two groups.
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const octets = text.slice(lastColon + 1).split('.').map(Number);
    const high = ((octets[0] << 8) | octets[1]).toString(16);
    const low = ((octets[2] << 8) | octets[3]).toString(16);
    text = `${text.slice(0, lastColon + 1)}${high}:${low}`;
  }
  const [head, rest] = text.split('::');
  const parse = (part) => (part === undefined || part === '' ? [] : part.split(':').map((hex) => parseInt(hex, 16)));
  const front = parse(head);
  const back = parse(rest);
  const missing = rest === undefined ? 0 : 8 - front.length - back.length;
  return [...front, ...new Array(missing).fill(0), ...back];
}

/** Validates an ipv6Subnet option: a prefix length from 1 to 128, or false (every address its own key). */
function subnetBits(value) {
  if (value === false) return false;
  if (!Number.isInteger(value) || value < 1 || value > 128) {
    throw new RangeError(`ipv6Subnet must be an integer from 1 to 128 or false, got ${describe(value)}`);
  }
  return value;
}

/**
 * The key for client address `address`: an IPv4 address as is, an IPv6
 * address as its `/bits` prefix in CIDR notation ('2001:db8:0:ab00::/56'),
 * an IPv4-mapped IPv6 address as its IPv4 address; anything else unchanged.
 */
function addressKey(address, bits = 56) {
  if (typeof address !== 'string' || !isIPv6(address)) return address;
  const parts = groups(address);
  const mapped = parts.slice(0, 5).every((group) => group === 0) && parts[5] === 0xffff;
  if (mapped) {
    const v4 = `${parts[6] >> 8}.${parts[6] & 0xff}.${parts[7] >> 8}.${parts[7] & 0xff}`;
    if (isIPv4(v4)) return v4;
  }
  if (bits === false || bits === 128) return parts.map((group) => group.toString(16)).join(':');
  const masked = parts.map((group, i) => {
    const kept = Math.max(0, Math.min(16, bits - i * 16));
    return kept === 0 ? 0 : group & ((0xffff << (16 - kept)) & 0xffff);
  });
  // Compressing a run of zero groups is not needed for a key; one spelling per prefix is.
  return `${masked.map((group) => group.toString(16)).join(':')}/${bits}`;
}

/** The client address of a request: Express's and Fastify's req.ip (which honour their proxy settings), else the peer. */
function clientAddress(req) {
  return req.ip ?? req.socket?.remoteAddress ?? null;
}

module.exports = { addressKey, clientAddress, subnetBits };
