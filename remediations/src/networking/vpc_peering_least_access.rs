//! CIS 5.0 5.6 (6.0/7.0 6.6): routing tables for VPC peering are "least access".
//!
//! Check-only: which destinations a VPC needs to reach over a peering is a human judgement,
//! and removing a route breaks the traffic that uses it. One manual finding per route table
//! with routes via a peering connection, listing them; one compliant finding per region
//! without any.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types as ec2;
use serde_json::{json, Value};

use crate::aws::AwsError;
use crate::control::{region_of, Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;

pub struct VpcPeeringLeastAccess;

const DESCRIPTION: Description = Description {
    slug: "vpc-peering-least-access",
    scope: Scope::Regional,
    kind: Kind::CheckOnly,
    read_actions: &["ec2:DescribeRouteTables"],
    write_actions: &[],
    change_profile: "",
};

/// A route's destination: an IPv4 or IPv6 range, or a prefix list.
fn destination(r: &ec2::Route) -> String {
    r.destination_cidr_block()
        .or(r.destination_ipv6_cidr_block())
        .or(r.destination_prefix_list_id())
        .unwrap_or("?")
        .to_string()
}

/// Why a destination deserves a second look, if it does: the whole internet, or a range
/// as wide as a whole VPC or wider (IPv4 /16, IPv6 /56 and shorter).
fn broad(dest: &str) -> Option<&'static str> {
    let (_, len) = dest.split_once('/')?;
    let len: u8 = len.parse().ok()?;
    let v6 = dest.contains(':');
    if len == 0 {
        Some("the whole internet")
    } else if (!v6 && len <= 16) || (v6 && len <= 56) {
        Some("a whole VPC-sized range or wider")
    } else {
        None
    }
}

/// destination → peering connection, for the routes of `rt` that go via a peering.
fn peering_routes(rt: &ec2::RouteTable) -> BTreeMap<String, String> {
    rt.routes()
        .iter()
        .filter_map(|r| {
            r.vpc_peering_connection_id()
                .map(|pcx| (destination(r), pcx.to_string()))
        })
        .collect()
}

fn finding_for(rt: &ec2::RouteTable, routes: &BTreeMap<String, String>) -> Finding {
    let id = rt.route_table_id().unwrap_or_default();
    let target = format!("route table {id} ({})", rt.vpc_id().unwrap_or("no VPC"));
    let shown: Vec<String> = routes
        .iter()
        .map(|(dest, pcx)| match broad(dest) {
            Some(why) => format!("{dest} → {pcx} ({why})"),
            None => format!("{dest} → {pcx}"),
        })
        .collect();
    let summary = format!(
        "{} via VPC peering to review: {}",
        crate::plan::plural(routes.len(), "route", "routes"),
        shown.join(", ")
    );
    let before = json!({ "PeeringRoutes": routes });
    let steps = [
        format!(
            "For each route of {id} listed above, find out which subnets of the peer VPC this \
             VPC's resources actually need to reach (ask the owners; VPC flow logs on the \
             peering show the traffic)."
        ),
        format!(
            "Narrow broad destinations (the whole peer VPC, or 0.0.0.0/0) to just those \
             subnets: `aws ec2 create-route --route-table-id {id} --destination-cidr-block \
             SUBNET_CIDR --vpc-peering-connection-id PCX_ID` for each needed subnet, then \
             `aws ec2 delete-route --route-table-id {id} --destination-cidr-block BROAD_CIDR`."
        ),
        format!(
            "Delete routes of {id} that no one needs any more, and routes to peering \
             connections that are gone (state blackhole)."
        ),
        "Review the peer VPC's route tables the same way: traffic needs routes on both sides, \
         and each side should route only what it needs."
            .to_string(),
    ];
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    Finding::manual(target, summary, before, &steps).with_note(
        "Removing or narrowing a peering route breaks the traffic that used it; change routes \
         only after the review.",
    )
}

#[async_trait]
impl Control for VpcPeeringLeastAccess {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        let mut tables = cx.reads.route_tables(cx.aws, region).await?;
        tables.sort_by(|a, b| a.route_table_id().cmp(&b.route_table_id()));
        let out: Vec<Finding> = tables
            .iter()
            .filter_map(|rt| {
                let routes = peering_routes(rt);
                (!routes.is_empty()).then(|| finding_for(rt, &routes))
            })
            .collect();
        if out.is_empty() {
            return Ok(vec![Finding::compliant(
                format!("route tables ({region})"),
                "no routes via VPC peering",
                json!({ "PeeringRoutes": Value::Object(Default::default()) }),
            )]);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dest: &str, pcx: Option<&str>) -> ec2::Route {
        let b = ec2::Route::builder().set_vpc_peering_connection_id(pcx.map(str::to_string));
        if dest.starts_with("pl-") {
            b.destination_prefix_list_id(dest).build()
        } else if dest.contains(':') {
            b.destination_ipv6_cidr_block(dest).build()
        } else {
            b.destination_cidr_block(dest).build()
        }
    }

    #[test]
    fn only_peering_routes_are_listed() {
        let rt = ec2::RouteTable::builder()
            .route_table_id("rtb-1")
            .vpc_id("vpc-1")
            .routes(route("172.31.0.0/16", None))
            .routes(route("10.1.0.0/16", Some("pcx-1")))
            .routes(route("2001:db8::/64", Some("pcx-2")))
            .routes(route("pl-123", Some("pcx-1")))
            .build();
        let routes = peering_routes(&rt);
        assert_eq!(routes.len(), 3);
        assert_eq!(routes["10.1.0.0/16"], "pcx-1");
        assert_eq!(routes["2001:db8::/64"], "pcx-2");
        assert_eq!(routes["pl-123"], "pcx-1");
        let f = finding_for(&rt, &routes);
        assert_eq!(f.target, "route table rtb-1 (vpc-1)");
        assert_eq!(f.status, crate::plan::Status::Manual);
        assert!(
            f.summary
                .contains("10.1.0.0/16 → pcx-1 (a whole VPC-sized range or wider)"),
            "{}",
            f.summary
        );
        assert!(
            f.summary.contains("2001:db8::/64 → pcx-2,"),
            "{}",
            f.summary
        );
        assert_eq!(f.before["PeeringRoutes"]["10.1.0.0/16"], "pcx-1");
    }

    #[test]
    fn broad_destinations() {
        assert_eq!(broad("0.0.0.0/0"), Some("the whole internet"));
        assert_eq!(broad("::/0"), Some("the whole internet"));
        assert!(broad("10.1.0.0/16").is_some());
        assert!(broad("10.0.0.0/8").is_some());
        assert!(broad("2001:db8::/56").is_some());
        assert_eq!(broad("10.1.2.0/24"), None);
        assert_eq!(broad("2001:db8::/64"), None);
        assert_eq!(broad("pl-123"), None);
    }
}
