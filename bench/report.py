"""The results table, its notes, the median of repeats and the main row's targets, in one place."""

from __future__ import annotations

import math
import statistics

from .limits import CONVERSATIONS_PER_SECOND
from .tally import TARGET_FIDELITY_PCT

# Beside bench/floor, run one right after the other: efficiency at most this much lower, p50 at
# most this much higher.
TARGET_EFFICIENCY_BELOW_FLOOR = 0.04
TARGET_P50_OVER_FLOOR_MS = 50.0
# With a model this fast or faster, replies still go out before the 200: p50 >= the model.
REPLY_BEFORE_ACK_MODEL_S = 1.0

COLUMNS = [  # (header, key, width, number format; text columns have none and align left)
    ("row", "row", 15, ""),
    ("UxK", "load", 6, ""),
    ("lost", "lost", 4, "d"),
    ("dup", "duplicated", 4, "d"),
    ("fail", "failed_deliveries", 4, "d"),
    ("fallbk", "fallbacks", 6, "d"),
    ("fid%", "fidelity_pct", 5, ".1f"),
    ("conv/s", "conversations_peak_per_s", 6, "d"),
    ("thr", "conversations_throttled", 5, "d"),
    ("redel", "redeliveries", 5, "d"),
    ("ack50", "ack_p50_ms", 6, ".0f"),
    ("ack99", "ack_p99_ms", 6, ".0f"),
    ("p50ms", "p50_ms", 6, ".0f"),
    ("p99ms", "p99_ms", 6, ".0f"),
    ("msg/s", "msgs_per_s", 6, ".1f"),
    ("wall s", "wall_s", 6, ".2f"),
    ("ideal", "ideal_s", 5, ".2f"),
    ("eff", "efficiency", 4, ".2f"),
    ("graph/r", "graph_calls_per_reply", 7, ".2f"),
    ("svc ms", "service_cpu_ms_per_msg", 6, ".2f"),
    ("stub ms", "standins_cpu_ms_per_msg", 7, ".2f"),
    ("drv ms", "driver_cpu_ms_per_msg", 6, ".2f"),
    ("box%", "box_busy_pct", 4, ".0f"),
    ("result", "result", 6, ""),
]
# Over repeats, these show the worst run rather than the median: each must hold in every run.
WORST = {
    "lost": max,
    "duplicated": max,
    "failed_deliveries": max,
    "excused_failures": max,
    "fallbacks": max,
    "fidelity_pct": min,
    "conversations_peak_per_s": max,
    "conversations_throttled": max,
}


def _cell(value, width: int, spec: str) -> str:
    """One table cell: numbers right-aligned, text left, NaN and missing values a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-".rjust(width)
    if spec:
        return format(round(value) if spec == "d" else value, spec).rjust(width)
    return str(value).ljust(width)


def header() -> str:
    """The table's header line."""
    return " ".join(h.rjust(w) if spec else h.ljust(w) for h, _, w, spec in COLUMNS)


def line(result: dict) -> str:
    """One result as a table line."""
    shown = {
        **result,
        "load": f"{result['people']}x{result['messages']}",
        "result": ("PASS" if result["pass"] else "FAIL")
        + ("" if result.get("finished", True) else " (timed out)"),
    }
    return " ".join(_cell(shown.get(key), w, spec) for _, key, w, spec in COLUMNS)


def notes(result: dict) -> list[str]:
    """What the table cannot show: odd statuses, context errors, the killed worker, the crash."""
    out = []
    odd = {k: v for k, v in result["statuses"].items() if k != "200"}
    if odd:
        out.append(f"non-200 answers: {odd}")
    if result.get("failed_deliveries"):
        ack = result.get("ack_seconds", 5.0)
        line = f"failed deliveries (no 2xx within {ack:g} s): {result['failed_by']}"
        if result.get("excused_failures"):
            line += f"; {result['excused_failures']} cut by the kill itself, not counted against it"
        out.append(line)
    if result.get("model_tail"):
        share, seconds = result["model_tail"]
        out.append(
            f"model {result['model_latency_s']:g} s, one call in {1 / share:g} {seconds:g} s"
        )
    if result["warmup"]["undelivered"]:
        out.append(f"warm-up: {result['warmup']['undelivered']} events never got a 2xx")
    if result["undelivered"]:
        out.append(f"{result['undelivered']} events never got a 2xx after every redelivery")
    if result["unknown_replies"]:
        out.append(f"{result['unknown_replies']} replies were neither model text nor fallback")
    first = result["wrong_context"] - (result["later_replies"] - result["faithful_replies"])
    if result["fault"] == "none" and first > 0:
        out.append(f"{first} replies to a first message saw earlier messages (there were none)")
    if result["fallbacks"] and result["fault"] == "none":
        out.append(f"{result['fallbacks']} fallbacks with no fault injected (budget ran out?)")
    if result.get("send_refused"):
        out.append(f"{result['send_refused']} sends refused by Meta's 2000-character limit")
    if result.get("conversations_cap") == 0:
        out.append("Conversations API uncapped (a platform Meta does not offer)")
    slow = {k: v for k, v in result.get("round_trip_ms", {}).items() if v > 5}
    if slow:
        out.append(f"keep-alive round trips over 5 ms (Nagle/delayed ACK?): {slow}")
    tcp = {k: v for k, v in result.get("tcp", {}).items() if v}
    if tcp:
        out.append(f"TCP on this machine during the run (SYN drops cost 1 s each): {tcp}")
    if result.get("redis_cpu_ms_per_msg") is not None:
        out.append(f"redis-server CPU {result['redis_cpu_ms_per_msg']:.2f} ms/msg")
    if result.get("router"):
        r = result["router"]
        each = result["workers"] // r["hosts"]
        line = (
            f"{r['hosts']} hosts, {each} worker{'s' if each != 1 else ''} each, on one Redis; "
            f"router: POSTs per host {r['posts']}, {r['rerouted']} past a person's own host"
        )
        if any(r["marked_down"]):
            line += f", marked down per host {r['marked_down']}"
        peak = result["conversations_peak_per_s"]
        line += f"; conversation reads per s per page across hosts {peak} (Meta: <= 2)"
        out.append(line)
    for key in ("killed_worker", "crash", "host_crash"):
        if result.get(key) and "first_end_at" in result[key]:
            out.append(f"first POST ended (200 or deadline) at t={result[key]['first_end_at']} s")
    if result.get("killed_worker"):
        k = result["killed_worker"]
        out.append(
            f"SIGKILLed worker pid {k.get('pid')} at t={k.get('at')} s "
            f"{k.get('error', '')}".rstrip()
        )
    if result.get("crash"):
        c = result["crash"]
        out.append(
            f"crash: master {c.get('pid')} and {c.get('workers')} workers SIGKILLed at "
            f"t={c.get('killed_at')} s, restarted at {c.get('restarted_at')} s, answering "
            f"at {c.get('ready_at', '-')} s {c.get('error', '')}".rstrip()
        )
    if result.get("host_crash"):
        c = result["host_crash"]
        workers = f"{c.get('workers')} worker{'' if c.get('workers') == 1 else 's'}"
        out.append(
            f"host crash: {c.get('host')} (master {c.get('pid')} and {workers}) SIGKILLed at "
            f"t={c.get('killed_at')} s, not restarted {c.get('error', '')}".rstrip()
        )
    if result.get("write_again"):
        w = result["write_again"]
        why = (
            "once every first message had its reply"
            if w.get("answered")
            else f"without every first message answered {w.get('error', '')}".rstrip()
        )
        out.append(f"messages after the first sent from t={w.get('opened_at')} s, {why}")
    if result.get("workdir"):
        out.append(f"logs kept in {result['workdir']}")
    return out


def show(result: dict) -> None:
    """Print a result's line and its notes as soon as the row ends."""
    print(line(result), flush=True)
    for note in notes(result):
        print(f"{INDENT}{note}", flush=True)


INDENT = " " * (COLUMNS[0][2] + 1)  # notes and verdicts start under the second column


def median_of(results: list[dict]) -> dict:
    """The median of every number over repeated runs, the worst run for correctness figures."""
    out = dict(results[0])
    for key, value in results[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values = [r[key] for r in results if r[key] is not None]
            pick = WORST.get(key, statistics.median)
            same = len(set(values)) == 1  # the load and settings: keep them as they are
            out[key] = (values[0] if same else pick(values)) if values else None
    out["row"] = f"median of {len(results)}"
    out["pass"] = all(r["pass"] for r in results)
    out["finished"] = all(r["finished"] for r in results)
    return out


def floor_of(results: list[dict]) -> dict | None:
    """The floor's main-row figures in a `--json` file of a floor run: its median, else its
    main row (rows of a matrix are not comparable)."""
    main = [r for r in results if r["row"] == "main" or r["row"].startswith("median of")]
    return main[-1] if main else None


def check_targets(result: dict, floor: dict | None = None) -> list[str]:
    """The main row's targets, one verdict a line; CPU is shown as information only.

    Efficiency and p50 are compared with bench/floor run beside this build (`floor`, from a
    floor run's --json); without it they are shown, not checked."""
    model_ms = result["model_latency_s"] * 1000
    fid, peak = result["fidelity_pct"], result["conversations_peak_per_s"]
    p50, eff = result["ack_p50_ms"], result["efficiency"]
    ack = result.get("ack_seconds", 5.0)
    checks = [
        ("history fidelity", fid, fid is not None and fid >= TARGET_FIDELITY_PCT, ">= 99 %"),
        (
            "conversation reads per s per page",
            peak,
            peak <= CONVERSATIONS_PER_SECOND,
            f"<= {CONVERSATIONS_PER_SECOND}",
        ),
        (
            f"failed deliveries (later than {ack:g} s, non-2xx, no answer)",
            result["failed_deliveries"],
            result["failed_deliveries"] == 0,
            "= 0",
        ),
        ("lost", result["lost"], result["lost"] == 0, "= 0"),
        ("duplicated", result["duplicated"], result["duplicated"] == 0, "= 0"),
    ]
    out = []
    if result["model_latency_s"] <= REPLY_BEFORE_ACK_MODEL_S and not result.get("model_tail"):
        checks.append(
            (
                "p50 webhook time to the 200 ms (the reply goes out before the 200)",
                p50,
                p50 >= model_ms,
                f">= {model_ms:.0f} (the model's latency)",
            )
        )
    if floor:
        eff_min = floor["efficiency"] - TARGET_EFFICIENCY_BELOW_FLOOR
        floor_p50 = floor.get("ack_p50_ms") or floor["p50_ms"]  # an older bench's file: p50
        p50_max = floor_p50 + TARGET_P50_OVER_FLOOR_MS
        checks += [
            (
                "efficiency",
                eff,
                eff >= eff_min,
                f">= {eff_min:.2f} (floor {floor['efficiency']:.2f} - "
                f"{TARGET_EFFICIENCY_BELOW_FLOOR})",
            ),
            (
                "p50 webhook time to the 200 ms",
                p50,
                p50 <= p50_max,
                f"<= {p50_max:.0f} (floor {floor_p50:.0f} + {TARGET_P50_OVER_FLOOR_MS:.0f})",
            ),
        ]
    else:
        out.append(
            f"not checked: efficiency {_figure(eff)}, p50 {_figure(p50)} ms; the targets are "
            f"floor - {TARGET_EFFICIENCY_BELOW_FLOOR} and floor + {TARGET_P50_OVER_FLOOR_MS:.0f} "
            "ms: run bench/floor right before or after and pass its --json as --floor-json"
        )
    out = [
        f"target {name}: {_figure(value)} {want} {'ok' if ok else 'MISSED'}"
        for name, value, ok, want in checks
    ] + out
    cpu = result["service_cpu_ms_per_msg"]
    out.append(f"information: service CPU {_figure(cpu)} ms/msg (not a target)")
    return out


def _figure(value) -> str:
    """A figure for a verdict line: two decimals at most, a dash when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
