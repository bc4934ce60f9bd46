//! PromQL functions. Placeholder until the function table lands: every call fails
//! with a clear error naming the function.

use crate::error::{PromqlError, Result};
use crate::eval::{Evaluator, Val};
use promql_parser::parser::Call;

pub(crate) fn call(_ev: &mut Evaluator<'_>, c: &Call) -> Result<Val> {
    Err(PromqlError::Execution(format!(
        "function {:?} is not implemented yet",
        c.func.name
    )))
}
