//! The date functions: `minute`, `hour`, `day_of_week`, `day_of_month`, `day_of_year`,
//! `days_in_month`, `month` and `year`, in UTC.
//!
//! The calendar arithmetic is `orrery_model::go::time`'s, shared with the HTTP APIs;
//! this file only maps values to dates and must not grow its own.

use super::{finish, vector_arg};
use crate::error::Result;
use crate::eval::{Evaluator, StepSeries, Val};
use orrery_model::go::time::{civil, Civil};
use orrery_model::Labels;
use promql_parser::parser::Expr;

/// A date function: each value is read as Unix seconds (truncated toward zero, as
/// Go's conversion does); without an argument, the step time (`vector(time())`).
pub(super) fn date(
    ev: &mut Evaluator<'_>,
    args: &[Box<Expr>],
    f: impl Fn(&Civil) -> f64,
) -> Result<Val> {
    let mut v = match args.first() {
        Some(e) => vector_arg(ev, e)?,
        None => vec![StepSeries {
            labels: Labels::empty(),
            values: ev.ts.iter().map(|&t| Some(t as f64 / 1000.0)).collect(),
        }],
    };
    for s in &mut v {
        for x in s.values.iter_mut().flatten() {
            *x = f(&civil(*x as i64));
        }
    }
    finish(v, Some(ev.name_removal()))
}

#[cfg(test)]
mod tests {
    use crate::functions::testutil::query;
    use crate::MemStore;

    #[test]
    fn date_functions_in_utc() {
        let s = MemStore::new();
        let one = |q: &str| query(&s, q, 0)[0].1;
        assert_eq!(one("year()"), 1970.0);
        assert_eq!(one("day_of_week()"), 4.0);
        assert_eq!(one("year(vector(1136239445))"), 2006.0);
        assert_eq!(one("month(vector(1136239445))"), 1.0);
        assert_eq!(one("day_of_month(vector(1136239445))"), 2.0);
        assert_eq!(one("day_of_year(vector(1136239445))"), 2.0);
        assert_eq!(one("day_of_week(vector(1136239445))"), 1.0);
        assert_eq!(one("hour(vector(1136239445))"), 22.0);
        assert_eq!(one("minute(vector(1136239445))"), 4.0);
        assert_eq!(one("year(vector(1230767999))"), 2008.0);
        assert_eq!(one("year(vector(1230768000))"), 2009.0);
        assert_eq!(one("day_of_year(vector(1483191420))"), 366.0);
        assert_eq!(one("day_of_year(vector(1672493820))"), 365.0);
        assert_eq!(one("days_in_month(vector(1454284800))"), 29.0);
        assert_eq!(one("days_in_month(vector(1485907200))"), 28.0);
        assert_eq!(one("year(vector(-1))"), 1969.0);
        assert_eq!(one("month(vector(1456790399))"), 2.0);
        assert_eq!(one("day_of_month(vector(1456790400))"), 1.0);
    }
}
