"""`just bench graphql-instructions`: drives an api-service running under
callgrind: creates an incident, warms up with persisted IncidentById reads,
zeroes callgrind's counters, makes the counted reads (one at a time, on one
keep-alive connection), dumps, and prints the instructions per read."""

import argparse
import glob
import http.client
import json
import os
import subprocess
import urllib.parse

parser = argparse.ArgumentParser()
for flag in ("--api", "--token", "--tenant", "--create-id", "--read-id", "--dump-dir"):
    parser.add_argument(flag, required=True)
parser.add_argument("--reads", type=int, default=2000)
parser.add_argument("--warm-up", type=int, default=300)
parser.add_argument("--pid", type=int, required=True)
args = parser.parse_args()

api = urllib.parse.urlsplit(args.api)
connection = http.client.HTTPConnection(api.hostname, api.port, timeout=120)
headers = {"Authorization": "Bearer " + args.token, "X-Tenant-ID": args.tenant, "Content-Type": "application/json"}


def graphql(body):
    connection.request("POST", "/graphql", body=json.dumps(body), headers=headers)
    response = connection.getresponse()
    answer = json.loads(response.read())
    if response.status != 200 or "errors" in answer:
        raise SystemExit(f"GraphQL answered {response.status}: {answer}")
    return answer


variables = {"input": {"title": "Benchmark incident", "severity": "LOW", "location": "Bench"}}
incident = graphql({"id": args.create_id, "variables": variables})["data"]["createIncident"]["id"]
read = {"id": args.read_id, "variables": {"id": incident}}
for _ in range(args.warm_up):
    graphql(read)
subprocess.run(["callgrind_control", "--zero", str(args.pid)], check=True, capture_output=True)
for _ in range(args.reads):
    graphql(read)
subprocess.run(["callgrind_control", "--dump", str(args.pid)], check=True, capture_output=True)
dumps = sorted(glob.glob(os.path.join(args.dump_dir, "callgrind.out.*")), key=os.path.getmtime)
if not dumps:
    raise SystemExit("callgrind wrote no dump")
with open(dumps[-1]) as dump:
    total = next(int(line.split()[1]) for line in dump if line.startswith(("summary:", "totals:")))
print(json.dumps({"reads": args.reads, "instructions": total, "instructions_per_read": round(total / args.reads)}))
