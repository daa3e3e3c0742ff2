// The Go consumer app: the same two stacks as test/consumers/ts-app.ts, built through the Go module
// that jsii-pacmak wrote to dist/go/cdkproxysql (go.mod replaces the module with that folder).
// compare.ts checks its templates against the TypeScript ones, so keep the four apps (TypeScript,
// Python, Java, Go) in step.
//
// Usage: go run . OUTDIR
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdkproxysql/cdk-proxysql-go/cdkproxysql"
)

func vpcFor(stack awscdk.Stack) awsec2.Vpc {
	return awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(1),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC},
			{Name: jsii.String("app"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
			{Name: jsii.String("db"), SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED},
		},
	})
}

func main() {
	defer jsii.Close()
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run . OUTDIR")
		os.Exit(2)
	}
	// AnalyticsReporting off: the CDKMetadata resource names the language, the one expected difference.
	app := awscdk.NewApp(&awscdk.AppProps{
		Outdir:             jsii.String(os.Args[1]),
		AnalyticsReporting: jsii.Bool(false),
	})

	// --- ConsumerReference -----------------------------------------------------------------------
	reference := awscdk.NewStack(app, jsii.String("ConsumerReference"), nil)
	vpc := vpcFor(reference)
	db := cdkproxysql.NewAuroraBackend(reference, jsii.String("Db"), &cdkproxysql.AuroraBackendProps{
		Vpc:                vpc,
		Readers:            jsii.Number(1),
		InstanceType:       awsec2.InstanceType_Of(awsec2.InstanceClass_T4G, awsec2.InstanceSize_MEDIUM),
		RemovalPolicy:      awscdk.RemovalPolicy_DESTROY,
		DeletionProtection: jsii.Bool(false),
	})
	proxy := cdkproxysql.NewProxySqlFargate(reference, jsii.String("Proxy"), &cdkproxysql.ProxySqlFargateProps{
		Vpc:               vpc,
		Backend:           db,
		DropUsersOnDelete: jsii.Bool(true),
		QueryRules: cdkproxysql.QueryRules_ReadWriteSplit(&cdkproxysql.ReadWriteSplitOptions{
			Before: &[]*cdkproxysql.QueryRuleOptions{{
				Match:       jsii.String(`^SELECT .* FROM reports\.`),
				Destination: cdkproxysql.RuleDestination_READERS(),
				CacheTtlMs:  jsii.Number(30_000),
				Comment:     jsii.String("reports: readers, cached for 30 s"),
			}},
		}),
	})
	cdkproxysql.NewPrivateDnsAliases(reference, jsii.String("Dns"), &cdkproxysql.PrivateDnsAliasesProps{
		Vpc:     vpc,
		Proxy:   proxy,
		Cluster: db.Cluster(),
	})
	cdkproxysql.NewLambdaDemoApi(reference, jsii.String("Demo"), &cdkproxysql.LambdaDemoApiProps{
		Vpc:          vpc,
		Proxy:        proxy,
		UserSecret:   db.AppUserSecret(),
		DatabaseName: db.DatabaseName(),
	})

	// --- ConsumerImported ------------------------------------------------------------------------
	imported := awscdk.NewStack(app, jsii.String("ConsumerImported"), nil)
	importedVpc := vpcFor(imported)
	legacy := awsrds.DatabaseCluster_FromDatabaseClusterAttributes(imported, jsii.String("Legacy"), &awsrds.DatabaseClusterAttributes{
		ClusterIdentifier:      jsii.String("legacy-aurora"),
		ClusterEndpointAddress: jsii.String("legacy-aurora.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com"),
		ReaderEndpointAddress:  jsii.String("legacy-aurora.cluster-ro-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com"),
		Port:                   jsii.Number(3306),
		SecurityGroups: &[]awsec2.ISecurityGroup{
			awsec2.SecurityGroup_FromSecurityGroupId(imported, jsii.String("LegacySg"), jsii.String("sg-0123456789abcdef0"), nil),
		},
	})
	adminSecret := awssecretsmanager.Secret_FromSecretCompleteArn(imported, jsii.String("LegacyAdmin"),
		jsii.String("arn:aws:secretsmanager:us-east-1:111122223333:secret:legacy-aurora/admin-AbCdEf"))
	appSecret := awssecretsmanager.Secret_FromSecretCompleteArn(imported, jsii.String("LegacyApp"),
		jsii.String("arn:aws:secretsmanager:us-east-1:111122223333:secret:legacy-aurora/app-GhIjKl"))
	certificate := awssecretsmanager.Secret_FromSecretCompleteArn(imported, jsii.String("ProxyCertificate"),
		jsii.String("arn:aws:secretsmanager:us-east-1:111122223333:secret:proxysql/tls-MnOpQr"))
	importedProxy := cdkproxysql.NewProxySqlFargate(imported, jsii.String("Proxy"), &cdkproxysql.ProxySqlFargateProps{
		Vpc: importedVpc,
		Backend: cdkproxysql.ProxySqlBackend_FromAuroraCluster(legacy, &cdkproxysql.AuroraClusterBackendOptions{
			AdminSecret:         adminSecret,
			AppUserSecrets:      &[]awssecretsmanager.ISecret{appSecret},
			InstanceIdentifiers: jsii.Strings("legacy-aurora-1", "legacy-aurora-2"),
		}),
		DesiredCount:   jsii.Number(3),
		MaxCapacity:    jsii.Number(6),
		Cpu:            jsii.Number(512),
		MemoryLimitMiB: jsii.Number(1024),
		RequireTls:     jsii.Bool(true),
		TlsCertificate: cdkproxysql.ProxySqlTlsCertificate_FromSecret(certificate, nil),
	})
	importedProxy.AddDashboard(nil)
	importedProxy.AddRecommendedAlarms(&cdkproxysql.ProxySqlAlarmOptions{ClientConnectionsPercent: jsii.Number(70)})
	importedProxy.MetricQueriesRouted(cdkproxysql.HostgroupRole_READERS, nil).CreateAlarm(imported, jsii.String("ReadsStopped"), &awscloudwatch.CreateAlarmOptions{
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(5),
		ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
	})

	app.Synth(nil)
}
