//! CIS 5.0 section 4, monitoring: the fifteen CloudWatch metric filters with their alarms
//! (4.1–4.15) and Security Hub (4.16).

pub mod metric_filters;
pub mod security_hub;
