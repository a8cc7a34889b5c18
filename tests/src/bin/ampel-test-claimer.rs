//! Helper process for the multi-process claim test: claims and completes T2 tickets
//! from the store given as first argument until none is left, printing each id.

use ampel_interface::{DocumentCode, MetaRecord, Tier};
use ampel_store::{ClaimRequest, T2Outcome};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let uri = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: ampel-test-claimer URI OWNER"))?;
    let owner = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: ampel-test-claimer URI OWNER"))?;
    let store = ampel_commands::open_store(&uri)?;
    while let Some(doc) = store.claim_t2(&ClaimRequest::new(&owner, 10.0, 600.0))? {
        let outcome = T2Outcome {
            code: DocumentCode::OK,
            meta: MetaRecord::new(1, 11.0, Tier::T2, DocumentCode::OK),
            body: Some(serde_json::json!({ "by": owner })),
            tag: Default::default(),
            retry_after: None,
        };
        store.complete_t2(&doc.id, &owner, &outcome)?;
        println!("{}", doc.id);
    }
    Ok(())
}
