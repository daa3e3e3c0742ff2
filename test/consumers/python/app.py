"""The Python consumer app: the same two stacks as test/consumers/ts-app.ts, built through the
cdk-proxysql wheel that jsii-pacmak made. compare.ts checks its templates against the TypeScript
ones, so keep the four apps (TypeScript, Python, Java, Go) in step.

Usage: python app.py OUTDIR
"""
import sys

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_proxysql import (
    AuroraBackend,
    HostgroupRole,
    LambdaDemoApi,
    PrivateDnsAliases,
    ProxySqlBackend,
    ProxySqlFargate,
    ProxySqlTlsCertificate,
    QueryRuleOptions,
    QueryRules,
    RuleDestination,
)

if len(sys.argv) != 2:
    sys.exit("usage: app.py OUTDIR")

# analytics_reporting off: the CDKMetadata resource names the language, the one expected difference.
app = cdk.App(outdir=sys.argv[1], analytics_reporting=False)


def vpc_for(stack: cdk.Stack) -> ec2.Vpc:
    return ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=1,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
            ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            ec2.SubnetConfiguration(name="db", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        ],
    )


# --- ConsumerReference ---------------------------------------------------------------------------
reference = cdk.Stack(app, "ConsumerReference")
vpc = vpc_for(reference)
db = AuroraBackend(
    reference,
    "Db",
    vpc=vpc,
    readers=1,
    instance_type=ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM),
    removal_policy=cdk.RemovalPolicy.DESTROY,
    deletion_protection=False,
)
proxy = ProxySqlFargate(
    reference,
    "Proxy",
    vpc=vpc,
    backend=db,
    drop_users_on_delete=True,
    query_rules=QueryRules.read_write_split(
        before=[
            QueryRuleOptions(
                match=r"^SELECT .* FROM reports\.",
                destination=RuleDestination.READERS,
                cache_ttl_ms=30_000,
                comment="reports: readers, cached for 30 s",
            )
        ]
    ),
)
PrivateDnsAliases(reference, "Dns", vpc=vpc, proxy=proxy, cluster=db.cluster)
LambdaDemoApi(reference, "Demo", vpc=vpc, proxy=proxy, user_secret=db.app_user_secret, database_name=db.database_name)

# --- ConsumerImported ----------------------------------------------------------------------------
imported = cdk.Stack(app, "ConsumerImported")
imported_vpc = vpc_for(imported)
legacy = rds.DatabaseCluster.from_database_cluster_attributes(
    imported,
    "Legacy",
    cluster_identifier="legacy-aurora",
    cluster_endpoint_address="legacy-aurora.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com",
    reader_endpoint_address="legacy-aurora.cluster-ro-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com",
    port=3306,
    security_groups=[ec2.SecurityGroup.from_security_group_id(imported, "LegacySg", "sg-0123456789abcdef0")],
)
admin_secret = secretsmanager.Secret.from_secret_complete_arn(
    imported, "LegacyAdmin", "arn:aws:secretsmanager:us-east-1:111122223333:secret:legacy-aurora/admin-AbCdEf"
)
app_secret = secretsmanager.Secret.from_secret_complete_arn(
    imported, "LegacyApp", "arn:aws:secretsmanager:us-east-1:111122223333:secret:legacy-aurora/app-GhIjKl"
)
certificate = secretsmanager.Secret.from_secret_complete_arn(
    imported, "ProxyCertificate", "arn:aws:secretsmanager:us-east-1:111122223333:secret:proxysql/tls-MnOpQr"
)
imported_proxy = ProxySqlFargate(
    imported,
    "Proxy",
    vpc=imported_vpc,
    backend=ProxySqlBackend.from_aurora_cluster(
        legacy,
        admin_secret=admin_secret,
        app_user_secrets=[app_secret],
        instance_identifiers=["legacy-aurora-1", "legacy-aurora-2"],
    ),
    desired_count=3,
    max_capacity=6,
    cpu=512,
    memory_limit_mib=1024,
    require_tls=True,
    tls_certificate=ProxySqlTlsCertificate.from_secret(certificate),
)
imported_proxy.add_dashboard()
imported_proxy.add_recommended_alarms(client_connections_percent=70)
imported_proxy.metric_queries_routed(HostgroupRole.READERS).create_alarm(
    imported,
    "ReadsStopped",
    threshold=1,
    evaluation_periods=5,
    comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
)

app.synth()
