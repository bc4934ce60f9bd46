//! PromQL functions. Range-vector functions live in `range`; every other call fails
//! with a clear error naming the function until the instant-vector table lands.

mod range;

use crate::error::{PromqlError, Result};
use crate::eval::{Evaluator, Val};
use promql_parser::parser::Call;

pub(crate) fn call(ev: &mut Evaluator<'_>, c: &Call) -> Result<Val> {
    if let Some(v) = range::call(ev, c.func.name, &c.args.args)? {
        return Ok(v);
    }
    Err(PromqlError::Execution(format!(
        "function {:?} is not implemented yet",
        c.func.name
    )))
}
