package io.github.cdkproxysql.consumer;

import java.util.List;

import io.github.cdkproxysql.AuroraBackend;
import io.github.cdkproxysql.AuroraClusterBackendOptions;
import io.github.cdkproxysql.HostgroupRole;
import io.github.cdkproxysql.LambdaDemoApi;
import io.github.cdkproxysql.PrivateDnsAliases;
import io.github.cdkproxysql.ProxySqlBackend;
import io.github.cdkproxysql.ProxySqlAlarmOptions;
import io.github.cdkproxysql.ProxySqlFargate;
import io.github.cdkproxysql.ProxySqlTlsCertificate;
import io.github.cdkproxysql.QueryRuleOptions;
import io.github.cdkproxysql.QueryRules;
import io.github.cdkproxysql.ReadWriteSplitOptions;
import io.github.cdkproxysql.RuleDestination;
import software.amazon.awscdk.AppProps;
import software.amazon.awscdk.RemovalPolicy;
import software.amazon.awscdk.Stack;
import software.amazon.awscdk.services.cloudwatch.ComparisonOperator;
import software.amazon.awscdk.services.cloudwatch.CreateAlarmOptions;
import software.amazon.awscdk.services.ec2.InstanceClass;
import software.amazon.awscdk.services.ec2.InstanceSize;
import software.amazon.awscdk.services.ec2.InstanceType;
import software.amazon.awscdk.services.ec2.SecurityGroup;
import software.amazon.awscdk.services.ec2.SubnetConfiguration;
import software.amazon.awscdk.services.ec2.SubnetType;
import software.amazon.awscdk.services.ec2.Vpc;
import software.amazon.awscdk.services.rds.DatabaseCluster;
import software.amazon.awscdk.services.rds.DatabaseClusterAttributes;
import software.amazon.awscdk.services.rds.IDatabaseCluster;
import software.amazon.awscdk.services.secretsmanager.ISecret;
import software.amazon.awscdk.services.secretsmanager.Secret;

/**
 * The Java consumer app: the same two stacks as test/consumers/ts-app.ts, built through the
 * cdk-proxysql jar that jsii-pacmak made. compare.ts checks its templates against the TypeScript
 * ones, so keep the four apps (TypeScript, Python, Java, Go) in step.
 */
public final class ConsumerApp {
    private ConsumerApp() {
    }

    private static Vpc vpcFor(final Stack stack) {
        return Vpc.Builder.create(stack, "Vpc")
                .maxAzs(2)
                .natGateways(1)
                .subnetConfiguration(List.of(
                        SubnetConfiguration.builder().name("public").subnetType(SubnetType.PUBLIC).build(),
                        SubnetConfiguration.builder().name("app").subnetType(SubnetType.PRIVATE_WITH_EGRESS).build(),
                        SubnetConfiguration.builder().name("db").subnetType(SubnetType.PRIVATE_ISOLATED).build()))
                .build();
    }

    public static void main(final String[] args) {
        if (args.length != 1) {
            throw new IllegalArgumentException("usage: ConsumerApp OUTDIR");
        }
        // analyticsReporting off: the CDKMetadata resource names the language, the one expected difference.
        software.amazon.awscdk.App app = new software.amazon.awscdk.App(AppProps.builder()
                .outdir(args[0])
                .analyticsReporting(false)
                .build());

        // --- ConsumerReference ------------------------------------------------------------------
        Stack reference = new Stack(app, "ConsumerReference");
        Vpc vpc = vpcFor(reference);
        AuroraBackend db = AuroraBackend.Builder.create(reference, "Db")
                .vpc(vpc)
                .readers(1)
                .instanceType(InstanceType.of(InstanceClass.T4G, InstanceSize.MEDIUM))
                .removalPolicy(RemovalPolicy.DESTROY)
                .deletionProtection(false)
                .build();
        ProxySqlFargate proxy = ProxySqlFargate.Builder.create(reference, "Proxy")
                .vpc(vpc)
                .backend(db)
                .dropUsersOnDelete(true)
                .queryRules(QueryRules.readWriteSplit(ReadWriteSplitOptions.builder()
                        .before(List.of(QueryRuleOptions.builder()
                                .match("^SELECT .* FROM reports\\.")
                                .destination(RuleDestination.READERS)
                                .cacheTtlMs(30_000)
                                .comment("reports: readers, cached for 30 s")
                                .build()))
                        .build()))
                .build();
        PrivateDnsAliases.Builder.create(reference, "Dns").vpc(vpc).proxy(proxy).cluster(db.getCluster()).build();
        LambdaDemoApi.Builder.create(reference, "Demo")
                .vpc(vpc)
                .proxy(proxy)
                .userSecret(db.getAppUserSecret())
                .databaseName(db.getDatabaseName())
                .build();

        // --- ConsumerImported -------------------------------------------------------------------
        Stack imported = new Stack(app, "ConsumerImported");
        Vpc importedVpc = vpcFor(imported);
        IDatabaseCluster legacy = DatabaseCluster.fromDatabaseClusterAttributes(imported, "Legacy",
                DatabaseClusterAttributes.builder()
                        .clusterIdentifier("legacy-aurora")
                        .clusterEndpointAddress("legacy-aurora.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com")
                        .readerEndpointAddress("legacy-aurora.cluster-ro-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com")
                        .port(3306)
                        .securityGroups(List.of(SecurityGroup.fromSecurityGroupId(imported, "LegacySg", "sg-0123456789abcdef0")))
                        .build());
        ISecret adminSecret = Secret.fromSecretCompleteArn(imported, "LegacyAdmin",
                "arn:aws:secretsmanager:us-east-1:111122223333:secret:legacy-aurora/admin-AbCdEf");
        ISecret appSecret = Secret.fromSecretCompleteArn(imported, "LegacyApp",
                "arn:aws:secretsmanager:us-east-1:111122223333:secret:legacy-aurora/app-GhIjKl");
        ISecret certificate = Secret.fromSecretCompleteArn(imported, "ProxyCertificate",
                "arn:aws:secretsmanager:us-east-1:111122223333:secret:proxysql/tls-MnOpQr");
        ProxySqlFargate importedProxy = ProxySqlFargate.Builder.create(imported, "Proxy")
                .vpc(importedVpc)
                .backend(ProxySqlBackend.fromAuroraCluster(legacy, AuroraClusterBackendOptions.builder()
                        .adminSecret(adminSecret)
                        .appUserSecrets(List.of(appSecret))
                        .instanceIdentifiers(List.of("legacy-aurora-1", "legacy-aurora-2"))
                        .build()))
                .desiredCount(3)
                .maxCapacity(6)
                .cpu(512)
                .memoryLimitMiB(1024)
                .requireTls(true)
                .tlsCertificate(ProxySqlTlsCertificate.fromSecret(certificate))
                .build();
        importedProxy.addDashboard();
        importedProxy.addRecommendedAlarms(ProxySqlAlarmOptions.builder().clientConnectionsPercent(70).build());
        importedProxy.metricQueriesRouted(HostgroupRole.READERS).createAlarm(imported, "ReadsStopped",
                CreateAlarmOptions.builder()
                        .threshold(1)
                        .evaluationPeriods(5)
                        .comparisonOperator(ComparisonOperator.LESS_THAN_THRESHOLD)
                        .build());

        app.synth();
    }
}
