//! The crate digest every unit of this crate carries in its code digest (see
//! `ampel-unit-build`): any file of the crate changing changes the trace ids.

fn main() {
    ampel_unit_build::emit_crate_digest();
}
