//! Message templates: text with `{placeholders}` filled from a decision.

use crate::core::error::{Error, Result};

/// What a placeholder stands for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Field {
    RetryAfter,
    Limit,
    Remaining,
    Scope,
}

#[derive(Clone, PartialEq, Eq, Debug)]
enum Piece {
    Text(String),
    Field(Field),
}

/// A parsed template. Placeholders: `{retry_after}`, `{limit}`,
/// `{remaining}`, `{scope}`; `{{` and `}}` are literal braces.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Template(Vec<Piece>);

impl Template {
    pub(crate) fn parse(source: &str) -> Result<Self> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        while let Some(at) = rest.find(['{', '}']) {
            text.push_str(&rest[..at]);
            let tail = &rest[at..];
            if tail.starts_with("{{") || tail.starts_with("}}") {
                text.push_str(&tail[..1]);
                rest = &tail[2..];
                continue;
            }
            if tail.starts_with('}') {
                return Err(Error::InvalidTemplate);
            }
            let end = tail.find('}').ok_or(Error::InvalidTemplate)?;
            let field = match &tail[1..end] {
                "retry_after" => Field::RetryAfter,
                "limit" => Field::Limit,
                "remaining" => Field::Remaining,
                "scope" => Field::Scope,
                _ => return Err(Error::InvalidTemplate),
            };
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Field(field));
            rest = &tail[end + 1..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Self(pieces))
    }

    /// The text with each placeholder replaced by `value(field)`.
    pub(crate) fn fill(&self, value: impl Fn(Field) -> String) -> String {
        self.0
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => text.clone(),
                Piece::Field(field) => value(*field),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(source: &str) -> Result<String> {
        Ok(Template::parse(source)?.fill(|field| format!("<{field:?}>")))
    }

    #[test]
    fn fills_placeholders_and_keeps_escaped_braces() {
        assert_eq!(
            fill("Retry after {retry_after}s ({scope}, {{x}})").unwrap(),
            "Retry after <RetryAfter>s (<Scope>, {x})"
        );
        assert_eq!(fill("{limit}{remaining}").unwrap(), "<Limit><Remaining>");
        assert_eq!(fill("").unwrap(), "");
    }

    #[test]
    fn refuses_unknown_or_unbalanced() {
        for bad in ["{nope}", "{limit", "limit}", "{", "}"] {
            assert_eq!(fill(bad), Err(Error::InvalidTemplate), "{bad}");
        }
    }
}
