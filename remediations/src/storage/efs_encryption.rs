//! CIS 5.0 2.3.1: EFS file systems are encrypted at rest. Check-only: encryption is chosen
//! when a file system is created, so an unencrypted one needs a new encrypted file system
//! and a data migration, which cis-fix never does.

use async_trait::async_trait;
use aws_sdk_efs::types::FileSystemDescription;
use serde_json::json;

use crate::aws::AwsError;
use crate::control::{region_of, Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;

pub struct EfsEncryption;

const DESCRIPTION: Description = Description {
    slug: "efs-encryption",
    scope: Scope::Regional,
    kind: Kind::CheckOnly,
    read_actions: &[DESCRIBE],
    write_actions: &[],
    change_profile: "",
};

const DESCRIBE: &str = "elasticfilesystem:DescribeFileSystems";

async fn file_systems(cx: &Cx<'_>, region: &str) -> Result<Vec<FileSystemDescription>, AwsError> {
    let aws = cx.aws;
    cx.reads
        .shared(&format!("efs:file-systems:{region}"), || async move {
            let mut out = Vec::new();
            let mut pages = aws
                .efs(region)
                .describe_file_systems()
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::from_sdk(DESCRIBE, e))?;
                out.extend(page.file_systems().iter().cloned());
            }
            out.sort_by(|a: &FileSystemDescription, b: &FileSystemDescription| {
                a.file_system_id().cmp(b.file_system_id())
            });
            Ok(out)
        })
        .await
}

fn steps(region: &str, id: &str) -> Vec<String> {
    vec![
        format!("Create an encrypted file system with the same settings: aws efs create-file-system --region {region} --encrypted --kms-key-id KEY (alias/aws/elasticfilesystem or a customer managed key) --performance-mode ... --throughput-mode ..., then its mount targets in the same subnets and security groups."),
        format!("Copy the data: an AWS DataSync task from {id} to the new file system (or AWS Backup: back up {id} and restore to the new, encrypted file system)."),
        "Cut over: stop writers, run a final incremental sync, change the mounts (fstab, task definitions, access points) to the new file system, and verify.".to_string(),
        format!("Keep {id} until the new one is proven; delete it only then (deleting is irreversible)."),
    ]
}

#[async_trait]
impl Control for EfsEncryption {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        Ok(file_systems(cx, region)
            .await?
            .iter()
            .map(|fs| {
                let id = fs.file_system_id();
                let target = format!("EFS file system {id}");
                let name = fs.name().filter(|n| !n.is_empty()).map(|n| format!(" \"{n}\"")).unwrap_or_default();
                let enc = fs.encrypted().unwrap_or(false);
                let before = json!({ "Encrypted": enc, "KmsKeyId": fs.kms_key_id() });
                if enc {
                    Finding::compliant(target, format!("file system{name} is encrypted"), before)
                } else {
                    Finding {
                        manual_steps: steps(region, id),
                        ..Finding::manual(target, format!("file system{name} is not encrypted; needs a new encrypted file system and a data migration"), before, &[])
                    }
                    .with_note("Encryption at rest can only be chosen at creation; cis-fix never migrates data, it gives the steps.")
                }
            })
            .collect())
    }
}
