//! The crate digest (every file of this crate and its locked dependencies) goes
//! into each unit's code digest, so a changed helper makes its results outdated.

fn main() {
    ampel_unit_build::emit_crate_digest();
}
