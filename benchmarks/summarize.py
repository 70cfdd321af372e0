#!/usr/bin/python3
"""Turns the JSON results in benchmarks/results/ into ratios against each benchmark's baseline.

    /usr/bin/python3 benchmarks/summarize.py benchmarks/results

Every ratio compares two numbers measured in the same run, so a slower or busier machine moves
both sides together; a regression shows as a ratio that grows between commits.
"""
import json
import sys
from pathlib import Path


def load(path):
    """Benchmarks by name from one Google Benchmark JSON file ({} if absent)."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {b["name"]: b for b in data.get("benchmarks", [])}, data.get("context", {})


def ns(bench):
    unit = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[bench.get("time_unit", "ns")]
    return bench["real_time"] * unit


def counter(name, value):
    return f"{name}={value:.2f}" if name.endswith("_ratio") else f"{name}={value:.0f}"


def proxy_section(results):
    """Proxy mode: what `snapbus proxy` adds to the same client's calls to the emulator (same run),
    also in bare loopback HTTP round trips (the proxy relays two calls per invocation)."""
    loaded = load(results / "proxy.json")
    if not loaded:
        return []
    benches, _ = loaded
    lines = ["## Proxy mode: added latency against the same client talking to the emulator directly", "",
             "| figure | direct p50 (us) | proxied p50 (us) | added p50 (us) | direct p99 (us) | proxied p99 (us) "
             "| proxied x direct p50 | added p50 x loopback HTTP round trip | added p50 < 50 us |",
             "|---|---|---|---|---|---|---|---|---|"]
    for prefix, figure, label in [("BM_ProxyBufferedInvocation", "rtt", "buffered invocation"),
                                  ("BM_ProxyStreamChunkRelay", "chunk", "streamed chunk")]:
        b = next((b for n, b in benches.items() if n.startswith(prefix) and "error_occurred" not in b), None)
        if not b:
            continue
        added = b[f"added_{figure}_p50_ns"]
        loopback = b.get(f"added_{figure}_p50_to_loopback_{figure}_p50_ratio")
        cells = [b[f"direct_{figure}_p50_ns"], b[f"proxied_{figure}_p50_ns"], added, b[f"direct_{figure}_p99_ns"],
                 b[f"proxied_{figure}_p99_ns"]]
        lines.append(f"| {label} | " + " | ".join(f"{value / 1e3:.1f}" for value in cells) +
                     f" | {b[f'proxied_to_direct_{figure}_p50_ratio']:.2f} | "
                     f"{f'{loopback:.2f}' if loopback is not None else '-'} | {'yes' if added < 50e3 else '**no**'} |")
    return [*lines, ""]


def same_run_ratios(benches):
    """The emulator's rows against their same-run baselines (p50 over p50)."""
    def p50(prefix, key):
        return next((b[key] for n, b in benches.items() if n.startswith(prefix) and key in b), None)

    pairs = [("empty invocation x loopback HTTP round trip", p50("BM_EmulatorEmptyInvocation", "rtt_p50_ns"),
              p50("BM_LoopbackHttpRoundTrip", "rtt_p50_ns")),
             ("fresh environment after a crash x Init at start", p50("BM_FreshEnvironmentAfterCrash", "fresh_p50_ns"),
              p50("BM_InitAtStart", "init_p50_ns")),
             ("memory per idle connection x bare Beast server",
              p50("BM_IdleConnectionMemory", "emulator_bytes_per_connection"),
              p50("BM_IdleConnectionMemory", "baseline_bytes_per_connection"))]
    rows = [f"| {label} | {ours / base:.2f} |" for label, ours, base in pairs if ours is not None and base]
    return ["| against its baseline (same run) | ratio |", "|---|---|", *rows, ""] if rows else []


def main(directory):
    results = Path(directory)
    lines = ["# snapbus benchmark summary", ""]

    loaded = load(results / "generation_check.json")
    if loaded:
        checks, context = loaded
        lines.append(f"Host: {context.get('host_name', '?')}, {context.get('num_cpus', '?')} CPUs, "
                     f"run {context.get('date', '?')}")
        lines.append("")
        floor = ns(checks["BM_PlainAtomicLoad"])
        lines += ["## Hot path: generation check (ns per call)", "",
                  "| check | ns | x plain atomic load |", "|---|---|---|"]
        for name in ["BM_PlainAtomicLoad", "BM_SnapbusGeneration", "BM_GetpidSyscall", "BM_StatMarkerFile",
                     "BM_SeqlockReadWholeState"]:
            if name in checks:
                lines.append(f"| {name[3:]} | {ns(checks[name]):.2f} | {ns(checks[name]) / floor:.2f} |")
        lines.append("")

    loaded = load(results / "wake_latency.json")
    if loaded:
        wakes, _ = loaded
        base = next(b for n, b in wakes.items() if n.startswith("BM_BareFutexPingPong"))

        def fan_out(label):
            # The same-run bare fan-out with as many processes as this row (PublishToAck/16 -> FanOut/16).
            count = label.split("/")[1] if "/" in label else None
            return next((b for n, b in wakes.items() if n.startswith(f"BM_BareFutexFanOut/{count}/")), None)

        lines += ["## Publish to wake and to every ack (ns), against a bare futex ping-pong and a bare "
                  "fan-out of as many processes", "",
                  "| case | wake p50 | wake p99 | round p50 | round p99 | wake p50 x ping-pong | round p50 x ping-pong "
                  "| round p50 x fan-out |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, b in wakes.items():
            label = name.split("/iterations")[0].replace("BM_", "")
            baseline = fan_out(label) if label.startswith("PublishToAck") else None
            versus_fan_out = f"{b['round_p50_ns'] / baseline['round_p50_ns']:.2f}" if baseline else "-"
            lines.append(f"| {label} | {b['wake_p50_ns']:.0f} | {b['wake_p99_ns']:.0f} | {b['round_p50_ns']:.0f} | "
                         f"{b['round_p99_ns']:.0f} | {b['wake_p50_ns'] / base['wake_p50_ns']:.2f} | "
                         f"{b['round_p50_ns'] / base['round_p50_ns']:.2f} | {versus_fan_out} |")
        lines.append("")

    python = results / "python.json"
    if python.exists():
        data = json.loads(python.read_text())
        lines += ["## Python hot path (ns per call)", "", "| call | ns | x plain function call |", "|---|---|---|"]
        for name, value in data["ns_per_call"].items():
            lines.append(f"| {name} | {value:.1f} | {data['ratio_to_plain_call'][name]:.2f} |")
        lines.append("")

    loaded = load(results / "readiness.json")
    if loaded:
        benches, _ = loaded
        lwa = benches.get("BM_LwaPollNotice/iterations:200/manual_time")
        ours = benches.get("BM_ReadinessNotice/iterations:200/manual_time")
        lines += ["## Readiness: listen() to noticed, and CPU while waiting", "",
                  "| check | notice p50 (us) | notice p99 (us) | p50 x LWA's 10 ms poll |", "|---|---|---|---|"]
        for label, b in [("snapbus (1 ms)", ours), ("LWA-style 10 ms poll", lwa)]:
            if b and lwa:
                lines.append(f"| {label} | {b['notice_p50_ns'] / 1e3:.0f} | {b['notice_p99_ns'] / 1e3:.0f} | "
                             f"{b['notice_p50_ns'] / lwa['notice_p50_ns']:.2f} |")
        lines += ["", "| waiting on a closed port | % of one core |", "|---|---|"]
        for label, name in [("snapbus (1 ms)", "BM_ReadinessIdleCpu/iterations:3"),
                            ("LWA-style 10 ms poll", "BM_LwaPollIdleCpu/iterations:3"),
                            ("a thread that only sleeps 1 ms at a time", "BM_Sleep1msIdleCpu/iterations:3")]:
            if name in benches:
                lines.append(f"| {label} | {benches[name]['cpu_percent']:.2f} |")
        lines.append("")

    for extra in ["emulator.json"]:
        loaded = load(results / extra)
        if loaded:
            benches, _ = loaded
            lines += [f"## {extra[:-5]}", "", "| benchmark | ns | counters |", "|---|---|---|"]
            for name, b in benches.items():
                counters = ", ".join(counter(k, v) for k, v in b.items()
                                     if k.endswith(("_ns", "_bytes_per_connection", "_ratio")))
                lines.append(f"| {name} | {ns(b):.1f} | {counters} |")
            lines.append("")
            lines += same_run_ratios(benches)
    lines += proxy_section(results)
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results")
