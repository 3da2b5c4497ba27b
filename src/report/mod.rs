//! `cis-fix report`: evidence for auditors. A plan (live or saved) and, optionally, the
//! journal runs that changed the account, rendered as one self-contained HTML file, CSV, or
//! JSON. [`model`] computes everything; the renderers only format it.

pub mod csv;
pub mod html;
pub mod model;

pub use model::{
    build, chain_head, Bucket, ChangeMade, PlanSource, Report, ReportItem, RunSummary,
    SectionScore, Tally,
};
