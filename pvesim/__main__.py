"""CLI: ``python -m pvesim --port 8006 --token 'root@pam!portal=SECRET' ...``."""

import argparse
import os
import signal
import sys
import threading

from .simulator import Simulator


def main(argv=None):
    ap = argparse.ArgumentParser(prog="pvesim", description="Stateful Proxmox VE 9 API simulator")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8006)
    ap.add_argument("--token", help="API token 'user@realm!id=SECRET' (default: generated)")
    ap.add_argument("--user", help="ticket login 'user@realm:PASSWORD' (default: generated)")
    ap.add_argument("--scenario", default="demo", help="demo, bulk:NODES:GUESTS or a YAML/JSON file")
    ap.add_argument("--time-scale", type=float, default=1.0, help="task duration multiplier; 0 = instant")
    ap.add_argument("--schema", help="path to apidata.json (default: env PVESIM_SCHEMA when that file exists)")
    ap.add_argument("--log-requests", default=os.environ.get("PVESIM_LOG_REQUESTS"),
                    help="append one JSON line per request to this file")
    ap.add_argument("--cert", help="PEM certificate (default: self-signed, generated at start)")
    ap.add_argument("--key", help="PEM private key for --cert")
    args = ap.parse_args(argv)
    if args.schema is None:
        env = os.environ.get("PVESIM_SCHEMA")
        args.schema = env if env and os.path.exists(env) else ""
    elif not os.path.exists(args.schema):
        ap.error(f"--schema {args.schema}: no such file")
    if bool(args.cert) != bool(args.key):
        ap.error("--cert and --key go together")
    sim = Simulator(scenario=args.scenario, time_scale=args.time_scale, schema_path=args.schema,
                    token=args.token, user=args.user, log_requests=args.log_requests, host=args.host,
                    port=args.port, cert=args.cert, key=args.key)
    sim.start()
    print(f"pvesim listening on {sim.url}/api2/json", flush=True)
    print(f"  token:   PVEAPIToken={sim.token_id}={sim.token_secret}", flush=True)
    print(f"  user:    {sim.user} / {sim.password}", flush=True)
    print(f"  CA cert: {sim.ca_cert_path}", flush=True)
    print(f"  OCI registry: {sim.registry_url}/v2/ (stands in for docker.io)", flush=True)
    print(f"  schema:  {args.schema or 'none (own checks)'}; time scale {args.time_scale}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
