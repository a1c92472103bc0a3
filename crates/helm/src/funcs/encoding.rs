//! Sprig's encoding functions (to be written).

use super::Funcs;

pub fn register(_f: &mut Funcs) {}
