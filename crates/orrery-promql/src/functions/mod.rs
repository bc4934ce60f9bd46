//! PromQL functions: the dispatcher. Range-vector functions live in `range`, all
//! others in `instant`; a name neither knows (experimental functions we do not
//! implement, such as `info`) fails with a clear error naming it.

mod fit;
mod instant;
mod range;

use crate::error::{PromqlError, Result};
use crate::eval::{Evaluator, Val};
use promql_parser::parser::Call;

pub(crate) fn call(ev: &mut Evaluator<'_>, c: &Call) -> Result<Val> {
    let name = c.func.name;
    if let Some(v) = range::call(ev, name, &c.args.args)? {
        return Ok(v);
    }
    if let Some(v) = instant::call(ev, name, &c.args.args)? {
        return Ok(v);
    }
    Err(PromqlError::Execution(format!(
        "function {name:?} is not supported"
    )))
}
