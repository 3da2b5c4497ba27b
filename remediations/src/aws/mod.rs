//! Everything that talks to AWS goes through here: the SDK configuration (standard
//! credential chain, profile, region, endpoint override, retries), the account, the regions
//! enabled for it, and one place where per-region clients are built.

mod call_log;
mod context;
mod error;
mod rate;
mod regions;

pub use call_log::CallLog;
pub use context::{Account, AwsContext, AwsOptions, RegionsError};
pub use error::{aws_err, AwsError, ErrorKind};
pub use rate::{RateBudget, DEFAULT_MAX_RPS};
pub use regions::{is_region_name, RegionSpec};
