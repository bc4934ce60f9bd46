//! Element-wise math: `abs`, `ceil`, `floor`, `exp`, `ln`, `log2`, `log10`, `sqrt`,
//! `sgn`, the trigonometric and hyperbolic functions, `deg`, `rad`, `round`, `clamp`,
//! `clamp_min`, `clamp_max`, and the scalar pair `max_of`/`min_of`.
//!
//! Results follow Go's `math` special cases (NaN and signed zeros) so they agree with
//! Prometheus to the last bit; every result drops `__name__`.

use super::{arg, finish, scalar_arg, vector_arg};
use crate::error::Result;
use crate::eval::{Evaluator, Val};
use promql_parser::parser::Expr;

/// Applies `f` to every value of the vector argument.
pub(super) fn map(
    ev: &mut Evaluator<'_>,
    args: &[Box<Expr>],
    f: impl Fn(f64) -> f64,
) -> Result<Val> {
    let mut v = vector_arg(ev, arg(args, 0)?)?;
    for s in &mut v {
        for x in s.values.iter_mut().flatten() {
            *x = f(*x);
        }
    }
    finish(v, Some(ev.name_removal()))
}

/// Go's `math.Max`: NaN wins, and +0 is larger than -0.
pub(super) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Go's `math.Min`: NaN wins, and -0 is smaller than +0.
pub(super) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

pub(super) fn sgn(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        v
    }
}

/// `round(v, to_nearest=1)`: ties round up, to a multiple of `to_nearest`.
pub(super) fn round(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let mut v = vector_arg(ev, arg(args, 0)?)?;
    let to = match args.get(1) {
        Some(e) => scalar_arg(ev, e)?,
        None => vec![1.0; ev.steps()],
    };
    for s in &mut v {
        for (x, &to) in s.values.iter_mut().zip(&to) {
            if let Some(x) = x {
                let inv = 1.0 / to;
                *x = (*x * inv + 0.5).floor() / inv;
            }
        }
    }
    finish(v, Some(ev.name_removal()))
}

/// `clamp(v, min, max)`: at steps where `max < min` the result is empty.
pub(super) fn clamp(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let mut v = vector_arg(ev, arg(args, 0)?)?;
    let lo = scalar_arg(ev, arg(args, 1)?)?;
    let hi = scalar_arg(ev, arg(args, 2)?)?;
    for s in &mut v {
        for (i, x) in s.values.iter_mut().enumerate() {
            if let Some(val) = *x {
                *x = (hi[i] >= lo[i] || hi[i].is_nan() || lo[i].is_nan())
                    .then(|| go_max(lo[i], go_min(hi[i], val)));
            }
        }
    }
    finish(v, Some(ev.name_removal()))
}

/// `clamp_min` (with `go_max`) and `clamp_max` (with `go_min`).
pub(super) fn clamp_one(
    ev: &mut Evaluator<'_>,
    args: &[Box<Expr>],
    f: impl Fn(f64, f64) -> f64,
) -> Result<Val> {
    let mut v = vector_arg(ev, arg(args, 0)?)?;
    let bound = scalar_arg(ev, arg(args, 1)?)?;
    for s in &mut v {
        for (x, &b) in s.values.iter_mut().zip(&bound) {
            if let Some(x) = x {
                *x = f(b, *x);
            }
        }
    }
    finish(v, Some(ev.name_removal()))
}

pub(super) fn scalar_pair(
    ev: &mut Evaluator<'_>,
    args: &[Box<Expr>],
    f: impl Fn(f64, f64) -> f64,
) -> Result<Val> {
    let a = scalar_arg(ev, arg(args, 0)?)?;
    let b = scalar_arg(ev, arg(args, 1)?)?;
    Ok(Val::Scalar(
        a.into_iter().zip(b).map(|(a, b)| f(a, b)).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use crate::functions::testutil::{err, query, sorted, store};

    #[test]
    fn math_functions_drop_the_name_and_follow_go_special_cases() {
        let s = store(&[
            ("m{l=\"a\"}", &[-2.5]),
            ("m{l=\"b\"}", &[0.0]),
            ("m{l=\"c\"}", &[f64::NAN]),
        ]);
        let r = sorted(query(&s, "sgn(m)", 0));
        assert_eq!(r[0], ("{l=\"a\"}".into(), -1.0));
        assert_eq!(r[1].1, 0.0);
        assert!(r[2].1.is_nan());
        let r = sorted(query(&s, "round(m)", 0));
        assert_eq!(r[0].1, -2.0, "ties round up");
        let r = sorted(query(&s, "round(m, 2)", 0));
        assert_eq!(r[0].1, -2.0);
        let r = sorted(query(&s, "abs(m)", 0));
        assert_eq!(r[0].1, 2.5);
        let r = sorted(query(&s, "deg(m)", 0));
        assert_eq!(r[0].1, -2.5 * 180.0 / std::f64::consts::PI);
        assert_eq!(query(&s, "pi()", 0)[0].1, std::f64::consts::PI);
        let r = sorted(query(&s, "ln(m)", 0));
        assert!(r[0].1.is_nan());
        assert_eq!(r[1].1, f64::NEG_INFINITY);
        let e = err(
            &store(&[("x{a=\"1\"}", &[1.0]), ("y{a=\"1\"}", &[2.0])]),
            "abs({a=\"1\"})",
        );
        assert!(e.contains("same labelset"), "{e}");
    }

    #[test]
    fn clamp_rules_for_nan_and_inverted_bounds() {
        let s = store(&[("c{s=\"a\"}", &[-50.0]), ("c{s=\"b\"}", &[100.0])]);
        assert_eq!(
            sorted(query(&s, "clamp(c, -25, 75)", 0)),
            [("{s=\"a\"}".into(), -25.0), ("{s=\"b\"}".into(), 75.0)]
        );
        assert!(query(&s, "clamp(c, 5, -5)", 0).is_empty());
        assert!(query(&s, "clamp(c, 0, NaN)", 0)
            .iter()
            .all(|x| x.1.is_nan()));
        assert!(query(&s, "clamp(c, NaN, 0)", 0)
            .iter()
            .all(|x| x.1.is_nan()));
        assert_eq!(sorted(query(&s, "clamp_min(c, 0)", 0))[0].1, 0.0);
        assert_eq!(sorted(query(&s, "clamp_max(c, 0)", 0))[1].1, 0.0);
    }
}
