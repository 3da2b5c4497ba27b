"""The cis-fix benchmark driver (run by scripts/bench; not a test, it measures and prints).

Seeds accounts in the emulator (moto), runs the release `cis-fix` binary against them and
prints, for each run: wall time, AWS calls, calls per second, peak RSS, time to the first AWS
call, and the emulator floor: calls x the median latency of one call. That median comes from a
calibration pass of the same plan, right before, against the same account, with one read at
a time (`--concurrency 1`): the latency of cis-fix's own calls with nothing else in flight.

Accounts:
  demo      the scripts/demo account (a console user, an admin role, a bucket, a key), every
            enabled region: `plan --regions all`, then `apply` + `undo` over the same regions.
  scale-1x  >= 2,000 IAM users (a third with console passwords, most with keys), 1,000 roles
            and 1,000 customer policies, 500 security groups with 5,000 rules, 200 VPCs with
            a network ACL each, 300 buckets, 200 KMS keys, 50 trails with event selectors,
            spread over 4 regions: `plan`, then `apply` + `undo` over those regions.
  scale-2x  the same, doubled.

moto cannot backdate anything (it stamps every key and password with the time it is
created): every key and password is "new", so the key ages are mixed only in the sense of
created/used/unused; no key is older than 90 days.

Environment: CIS_FIX_BENCH_OUT=FILE keeps the figures as JSON; CIS_FIX_BENCH_PLAN_ONLY=a,b
measures only the plan of those accounts; CIS_FIX_BENCH_ARGS="..." adds flags to every cis-fix
run (e.g. the account's own budgets: "--rate-limit iam=50 --rate-limit s3=50");
CIS_FIX_BENCH_REPEAT=N runs each plan, and its one-call-at-a-time pass, N times (default 1)
and reports the run of median wall time against the median of the passes' medians, with
every run's wall time (the emulator's speed varies from run to run by 10 to 20 %).
"""

import concurrent.futures as cf
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
from botocore.config import Config

REGIONS4 = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"]
BOTO = Config(retries={"max_attempts": 10, "mode": "standard"}, max_pool_connections=16)


def session_for(endpoint, account):
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/bench",
                        RoleSessionName="cis-fix-bench")["Credentials"]
    creds = {"AWS_ACCESS_KEY_ID": c["AccessKeyId"],
             "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
             "AWS_SESSION_TOKEN": c["SessionToken"]}
    s = boto3.session.Session(aws_access_key_id=c["AccessKeyId"],
                              aws_secret_access_key=c["SecretAccessKey"],
                              aws_session_token=c["SessionToken"], region_name="us-east-1")
    return s, creds


def signing_user(s, endpoint):
    """An IAM user's access key in the seeded account, for cis-fix to sign with: the emulator
    scans every role of the account on each request an assumed-role session signs
    (moto's mark_account_as_visited -> get_role_by_arn), a per-request cost that grows with
    the account (2,000 roles: twice the round trip of a user's key) and that AWS does not
    have. The user has no password and no policy (the emulator does not enforce IAM)."""
    iam = s.client("iam", endpoint_url=endpoint, config=BOTO)
    iam.create_user(UserName="cis-fix-bench")
    k = iam.create_access_key(UserName="cis-fix-bench")["AccessKey"]
    creds = {"AWS_ACCESS_KEY_ID": k["AccessKeyId"],
             "AWS_SECRET_ACCESS_KEY": k["SecretAccessKey"]}
    user = boto3.session.Session(aws_access_key_id=k["AccessKeyId"],
                                 aws_secret_access_key=k["SecretAccessKey"],
                                 region_name="us-east-1")
    return user, creds


def retried(fn):
    """moto answers an occasional 500 under load: try again; a create that went through the
    first time and now says it exists counts as done."""
    def run(item):
        for attempt in range(6):
            try:
                return fn(item)
            except Exception as e:  # noqa: BLE001 - botocore raises several kinds here
                text = str(e)
                if "AlreadyExists" in text or "Duplicate" in text or "already exists" in text:
                    return None
                if attempt == 5:
                    raise
                time.sleep(0.5 * (attempt + 1))
    return run


def probe_ms(s, endpoint, n=200):
    """The median round trip, in ms, of a call that reads nothing of the account
    (iam:ListAccountAliases) made with the account's credentials, one at a time from this
    script: what the emulator itself spends on any call of the account. It grows with the
    account's size (the emulator's own per-request work), which the floor then carries."""
    iam = s.client("iam", endpoint_url=endpoint, config=BOTO)
    iam.list_account_aliases()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        iam.list_account_aliases()
        times.append(time.perf_counter() - t)
    return round(statistics.median(times) * 1000, 2)


def pmap(fn, items, workers=4):
    with cf.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(retried(fn), items))


def seed_demo(s, endpoint, account):
    iam = s.client("iam", endpoint_url=endpoint, config=BOTO)
    iam.update_account_password_policy(MinimumPasswordLength=8, MaxPasswordAge=90,
                                       RequireSymbols=True)
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Initial-Password-1!")
    iam.create_role(RoleName="ops-admin", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}]}))
    iam.attach_role_policy(RoleName="ops-admin",
                           PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    s3 = s.client("s3", endpoint_url=endpoint, region_name="eu-west-1", config=BOTO)
    s3.create_bucket(Bucket=f"demo-data-{account}",
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s.client("kms", endpoint_url=endpoint, region_name="eu-west-1").create_key(
        Description="demo key")


def seed_scale(s, endpoint, account, k):
    """k = 1 or 2: every count times k."""
    rnd = random.Random(42 * k)
    iam = s.client("iam", endpoint_url=endpoint, config=BOTO)
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}]})
    group = "bench-readers"
    iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName=group,
                            PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")

    def user(i):
        name = f"user-{i:05d}"
        iam.create_user(UserName=name)
        if i % 3 == 0:
            iam.create_login_profile(UserName=name, Password="Initial-Password-1!")
        if i % 6 != 5:
            iam.create_access_key(UserName=name)
        if i % 12 == 0:
            iam.create_access_key(UserName=name)
        if i % 2 == 0:
            iam.add_user_to_group(GroupName=group, UserName=name)
        if i % 50 == 1:
            iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": "s3:GetObject", "Resource": "*"}]}))
    pmap(user, range(2000 * k))

    def role_and_policy(i):
        iam.create_role(RoleName=f"role-{i:05d}", AssumeRolePolicyDocument=trust)
        arn = iam.create_policy(PolicyName=f"policy-{i:05d}", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]}))["Policy"]["Arn"]
        if i % 4 == 0:
            iam.attach_role_policy(RoleName=f"role-{i:05d}", PolicyArn=arn)
    pmap(role_and_policy, range(1000 * k))

    for ri, region in enumerate(REGIONS4):
        ec2 = s.client("ec2", endpoint_url=endpoint, region_name=region, config=BOTO)

        def vpc(i):
            v = ec2.create_vpc(CidrBlock=f"10.{i % 250}.0.0/16")["Vpc"]["VpcId"]
            acl = ec2.create_network_acl(VpcId=v)["NetworkAcl"]["NetworkAclId"]
            ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="6",
                                         RuleAction="allow", Egress=False,
                                         CidrBlock="10.0.0.0/8",
                                         PortRange={"From": 443, "To": 443})
            return v
        vpcs = [v for v in pmap(vpc, range(50 * k)) if v]

        def sg(i):
            g = ec2.create_security_group(GroupName=f"sg-{region}-{i}", Description="bench",
                                          VpcId=vpcs[i % len(vpcs)])["GroupId"]
            perms = [{"IpProtocol": "tcp", "FromPort": 1000 + r, "ToPort": 1000 + r,
                      "IpRanges": [{"CidrIp": f"10.{r}.0.0/16"}]} for r in range(10)]
            if i % 25 == 0:
                perms[0] = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                            "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ec2.authorize_security_group_ingress(GroupId=g, IpPermissions=perms)
        pmap(sg, range(125 * k))

        s3 = s.client("s3", endpoint_url=endpoint, region_name=region, config=BOTO)

        def bucket(i):
            name = f"bench-{account}-{region}-{i}"
            if region == "us-east-1":
                s3.create_bucket(Bucket=name)
            else:
                s3.create_bucket(Bucket=name,
                                 CreateBucketConfiguration={"LocationConstraint": region})
        pmap(bucket, range(75 * k))

        kms = s.client("kms", endpoint_url=endpoint, region_name=region, config=BOTO)

        def key(i):
            kid = kms.create_key(Description=f"bench {i}")["KeyMetadata"]["KeyId"]
            if i % 2 == 0:
                kms.enable_key_rotation(KeyId=kid)
        pmap(key, range(50 * k))

        trails = s.client("cloudtrail", endpoint_url=endpoint, region_name=region, config=BOTO)
        log_bucket = f"bench-{account}-{region}-0"

        def trail(i):
            name = f"trail-{region}-{i}"
            trails.create_trail(Name=name, S3BucketName=log_bucket)
            trails.put_event_selectors(TrailName=name, EventSelectors=[{
                "ReadWriteType": rnd.choice(["All", "WriteOnly"]),
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::S3::Object",
                                   "Values": [f"arn:aws:s3:::{log_bucket}/"]}]}])
        pmap(trail, range(13 if ri < 2 else 12))
    if k == 2:
        # 50 trails' worth of selectors is the scale account's; the double has 100.
        for region in REGIONS4:
            trails = s.client("cloudtrail", endpoint_url=endpoint, region_name=region)
            for i in range(13 if region in REGIONS4[:2] else 12):
                trails.create_trail(Name=f"trail2-{region}-{i}",
                                    S3BucketName=f"bench-{account}-{region}-0")


def seed_org(s, endpoint, account, members):
    """An organization under `account` with `members` member accounts, each seeded like the
    demo account (reached through OrganizationAccountAccessRole, as cis-fix reaches them)."""
    org = s.client("organizations", endpoint_url=endpoint, config=BOTO)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ous = [org.create_organizational_unit(ParentId=root, Name=f"ou{i}")["OrganizationalUnit"]["Id"]
           for i in range(5)]

    def member(i):
        r = org.create_account(Email=f"m{i}@example.com", AccountName=f"member{i}")
        st = org.describe_create_account_status(
            CreateAccountRequestId=r["CreateAccountStatus"]["Id"])["CreateAccountStatus"]
        mid = st["AccountId"]
        org.move_account(AccountId=mid, SourceParentId=root, DestinationParentId=ous[i % 5])
        c = s.client("sts", endpoint_url=endpoint).assume_role(
            RoleArn=f"arn:aws:iam::{mid}:role/OrganizationAccountAccessRole",
            RoleSessionName="cis-fix-bench-seed")["Credentials"]
        ms = boto3.session.Session(aws_access_key_id=c["AccessKeyId"],
                                   aws_secret_access_key=c["SecretAccessKey"],
                                   aws_session_token=c["SessionToken"], region_name="us-east-1")
        seed_demo(ms, endpoint, mid)
        return mid
    return [member(i) for i in range(members)]


def measure(binary, args, env, endpoint):
    """Run cis-fix once; return its figures."""
    stats = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    full_env = dict(env, CIS_FIX_STATS=stats)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.monotonic()
        # CIS_FIX_BENCH_ARGS: flags for every run (e.g. "--rate-limit iam=50 --rate-limit s3=50").
        extra = os.environ.get("CIS_FIX_BENCH_ARGS", "").split()
        p = subprocess.Popen([binary, *args, *extra], env=full_env, stdout=out, stderr=err)
        # Peak RSS is the kernel's VmHWM of the cis-fix process, sampled until it exits:
        # ru_maxrss would count the pages of this Python process the child was forked from
        # (about 60 MB, more than a small cis-fix run). RssAnon is the heap-and-stacks part
        # (the rest is mostly the binary's code pages).
        anon = hwm = 0
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        if line.startswith("RssAnon:"):
                            anon = max(anon, int(line.split()[1]))
                        elif line.startswith("VmHWM:"):
                            hwm = max(hwm, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.01)
        wall = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    code = os.waitstatus_to_exitcode(status)
    with open(stats) as f:
        st = json.load(f)
    os.unlink(stats)
    return {"args": " ".join(args), "wall_s": wall, "rss_mb": hwm / 1024,
            "anon_mb": anon / 1024,
            "stats": st, "stdout": stdout, "stderr": stderr, "code": code}


def floor_ms(binary, args, env, endpoint):
    """The median round trip of one call, from a pass of `args` with one read at a time."""
    one = ["--concurrency", "1"]
    r = measure(binary, [*args, *one], env, endpoint)
    return r["stats"]["median_round_trip_ms"]


def report(label, runs, median_ms):
    calls = sum(r["stats"]["calls"] for r in runs)
    wall = sum(r["wall_s"] for r in runs)
    rss = max(r["rss_mb"] for r in runs)
    anon = max(r["anon_mb"] for r in runs)
    floor = calls * median_ms / 1000
    first = runs[0]["stats"]["first_call_ms"]
    throttled = sum(b["throttled"] for r in runs for b in r["stats"]["budgets"])
    print(f"  {label:<22} wall {wall:7.2f} s | calls {calls:6d} | {calls / wall:7.1f} calls/s "
          f"| peak RSS {rss:6.1f} MB (heap+stacks {anon:5.1f} MB) | first call after {first:6.1f} ms | floor {floor:6.2f} s "
          f"({median_ms:.2f} ms/call) | wall/floor {wall / floor:4.2f} | throttled {throttled}")
    return {"label": label, "wall_s": round(wall, 3), "calls": calls,
            "calls_per_s": round(calls / wall, 1), "peak_rss_mb": round(rss, 1), "peak_anon_mb": round(anon, 1),
            "first_call_ms": first, "median_call_ms": median_ms, "floor_s": round(floor, 3),
            "wall_over_floor": round(wall / floor, 2), "throttled": throttled}


def per_control(run, items):
    """Calls per control against the items it judged (the plan's JSON)."""
    judged = {}
    for it in items:
        judged[it["control"]] = judged.get(it["control"], 0) + 1
    rows = []
    for control, n in sorted(run["stats"]["per_control"].items(), key=lambda kv: -kv[1]):
        rows.append((control, n, judged.get(control, 0)))
    return rows


def main():
    endpoint, binary = sys.argv[1], sys.argv[2]
    which = sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else \
        ["demo", "scale-1x", "scale-2x"]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base_env.update({"AWS_ENDPOINT_URL": endpoint, "CIS_FIX_TEST_ENDPOINT": endpoint,
                     "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                     "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "us-east-1",
                     "NO_COLOR": "1"})
    results = []
    for n, name in enumerate(which):
        # Each account is measured in an emulator that holds it alone: moto answers every
        # request more slowly the more it holds in all (its Python heap), so the 2x account,
        # seeded after the 1x one, was measured against three times the 1x account's data.
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset",
                                                      method="POST")).read()
        account = f"{700000000000 + int(time.time()) % 1000000 * 10 + n:012d}"
        s, creds = session_for(endpoint, account)
        t = time.monotonic()
        accounts, members = [], []
        if name == "demo":
            seed_demo(s, endpoint, account)
            regions = ["--regions", "all"]
        elif name.startswith("org-"):
            members = seed_org(s, endpoint, account, int(name.split("-")[1]))
            regions = ["--regions", ",".join(REGIONS4)]
            accounts = ["--org"]
        else:
            seed_scale(s, endpoint, account, int(name.split("-")[1][0]))
            regions = ["--regions", ",".join(REGIONS4)]
        print(f"{name}: account {account} seeded in {time.monotonic() - t:.0f} s", flush=True)
        s, creds = signing_user(s, endpoint)
        env = dict(base_env, **creds)
        state = tempfile.mkdtemp()
        env["CIS_FIX_STATE_DIR"] = state
        # A first, unmeasured pass: the emulator sets up each region on first touch.
        measure(binary, ["plan", *accounts, *regions, "--format", "json"], env, endpoint)
        # The floor's one-call-at-a-time pass: over one member account for an organization
        # (a call's round trip does not depend on which account it is for).
        floor_accounts = ["--accounts", members[0]] if accounts else []
        repeat = int(os.environ.get("CIS_FIX_BENCH_REPEAT", "1"))
        meds, plans = [], []
        for _ in range(repeat):
            meds.append(floor_ms(binary, ["plan", *floor_accounts, *regions, "--format", "json"],
                                 env, endpoint))
            plans.append(measure(binary, ["plan", *accounts, *regions, "--format", "json", "-o",
                                          f"{state}/plan.json"], env, endpoint))
        med = statistics.median(meds)
        walls = [p["wall_s"] for p in plans]
        plan = sorted(plans, key=lambda p: p["wall_s"])[(len(plans) - 1) // 2]
        if repeat > 1:
            print(f"    {repeat} runs: walls " + ", ".join(f"{w:.2f}" for w in walls)
                  + " s; one-at-a-time medians " + ", ".join(f"{m:.2f}" for m in meds) + " ms")
        if plan["code"] not in (0, 2):
            print(f"    plan exited {plan['code']}: {plan['stderr'][-600:]}")
        r = report(f"{name} plan", [plan], med)
        r["walls_s"] = [round(w, 3) for w in walls]
        r["medians_ms"] = meds
        r["probe_ms"] = probe_ms(s, endpoint)
        print(f"    emulator probe: {r['probe_ms']:.2f} ms per ListAccountAliases of this account "
              "(nothing of the account read; from this script)")
        with open(f"{state}/plan.json") as f:
            doc = json.load(f)
        if accounts:
            # One plan per account: judge the items of all of them together.
            print(f"    accounts: {len(doc['accounts'])}, each at most "
                  f"{max(len(a['plan']['plan']['items']) for a in doc['accounts'] if 'plan' in a)} items")
            doc = {"items": [i for a in doc["accounts"] if "plan" in a for i in a["plan"]["plan"]["items"]]}
        else:
            doc = doc["plan"]
        counts = {}
        for it in doc["items"]:
            counts[it["status"]] = counts.get(it["status"], 0) + 1
        r["items"] = counts
        print(f"    items: {counts}")
        waits = sorted(plan["stats"]["budgets"], key=lambda b: -b["waited_ms"])[:5]
        print("    most waited-on budgets: " + ", ".join(
            f"{b['budget']} {b['sent']} calls, {b['waited_ms'] / 1000:.1f} s waited" for b in waits))
        ops = sorted(plan["stats"]["per_operation"].items(), key=lambda kv: -kv[1])[:10]
        print("    top calls: " + ", ".join(f"{o} {n}" for o, n in ops))
        print("    calls per control (calls / items judged):")
        for control, calls, judged in per_control(plan, doc["items"])[:12]:
            print(f"      {control:<40} {calls:6d} / {judged}")
        r["per_control"] = {c: [n, j] for c, n, j in per_control(plan, doc["items"])}
        results.append(r)
        if name in os.environ.get("CIS_FIX_BENCH_PLAN_ONLY", "").split(","):
            continue
        apply = measure(binary, ["apply", f"{state}/plan.json", "--yes",
                                 "--allow-destructive"], env, endpoint)
        if accounts:
            group = [l.split()[1] for l in apply["stdout"].splitlines() if l.startswith("Run ")][-1]
            undo = measure(binary, ["undo", group, "--yes"], env, endpoint)
        else:
            undo = measure(binary, ["undo", "--yes"], env, endpoint)
        # apply and undo go one change at a time: their own median round trip is the floor's.
        calls = apply["stats"]["calls"] + undo["stats"]["calls"]
        med = (apply["stats"]["median_round_trip_ms"] * apply["stats"]["calls"]
               + undo["stats"]["median_round_trip_ms"] * undo["stats"]["calls"]) / calls
        r2 = report(f"{name} apply+undo", [apply, undo], med)
        for run in (apply, undo):
            waits = sorted(run["stats"]["budgets"], key=lambda b: -b["waited_ms"])[:4]
            ops = sorted(run["stats"]["per_operation"].items(), key=lambda kv: -kv[1])[:6]
            print(f"    {run['args'].split()[0]}: {run['wall_s']:.1f} s, {run['stats']['calls']} calls; "
                  "most waited-on budgets: " + ", ".join(
                      f"{b['budget']} {b['sent']} calls {b['waited_ms'] / 1000:.1f} s" for b in waits)
                  + "; top calls: " + ", ".join(f"{o} {n}" for o, n in ops))
        r2["exit_codes"] = [apply["code"], undo["code"]]
        print(f"    exit codes: apply {apply['code']}, undo {undo['code']}")
        results.append(r2)
        if apply["stats"]["calls"] == 0:
            print("    apply made no call:", apply["stderr"][-400:])
    out = os.environ.get("CIS_FIX_BENCH_OUT")
    if out:
        with open(out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
