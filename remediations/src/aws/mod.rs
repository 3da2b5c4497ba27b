//! Everything that talks to AWS goes through here: the SDK configuration (standard
//! credential chain, profile, region, endpoint override, retries), the account, the regions
//! enabled for it, and one place where per-region clients are built.

mod budget;
mod call_log;
mod context;
mod error;
mod listing;
pub mod organization;
mod regions;

pub use budget::{
    median_of, parse_limit as parse_rate_limit, BudgetKey, BudgetUse, Budgets, Limit,
    DEFAULTS as BUDGET_DEFAULTS, FALLBACK as BUDGET_FALLBACK,
};
pub use call_log::{charged_to, Call, CallLog};
pub use context::{Account, AssumeRequest, AwsContext, AwsOptions, CredentialSource, RegionsError};
pub use error::{aws_err, AwsError, ErrorKind, OrgPolicyDenial};
pub use listing::{pages, read_each};
pub use regions::{is_region_name, RegionSpec};
