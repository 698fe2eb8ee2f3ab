use floodgate::{Limiter, Quota};

fn main() {
    let quota = Quota::per_second(10).expect("a valid rate");
    let limiter = Limiter::builder(quota).build();
    println!("{}", limiter.check(1).is_admitted());
}
