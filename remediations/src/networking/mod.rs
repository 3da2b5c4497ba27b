//! CIS 5.0 section 5, networking: EC2 (EBS default encryption, IMDSv2), network ACLs,
//! security groups and VPC peering routes.

pub mod default_security_group;
pub mod ebs_default_encryption;
pub mod ec2_imdsv2;
pub mod nacl_no_admin_ports;
pub mod sg_open_ingress;
pub mod vpc_peering_least_access;
