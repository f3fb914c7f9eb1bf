#!/usr/bin/python3
"""The Markdown table of bench/analysis.sh: riskd drift / ab beside pandas+scipy.

    report_analysis.py ROUNDS.jsonl

Each line: {"case": "drift"|"ab", "side": "riskd"|"peer", "rows": N, "seconds": s,
"cpu_seconds": s or null, "rss_kb": KB or null}. The table shows the median of the rounds with
their spread [min-max], the median of the rounds' ratios with their spread (pandas+scipy ÷
riskd: how many times faster riskd is), and each side's peak RSS (the largest over the rounds).
"""
import json
import statistics
import sys


def fmt_s(xs):
    m = statistics.median(xs)
    return "%.2f [%.2f-%.2f]" % (m, min(xs), max(xs)) if len(xs) > 1 else "%.2f" % m


def fmt_mb(xs):
    xs = [x for x in xs if x is not None]
    return "%.0f MiB" % (max(xs) / 1024) if xs else "-"


def main():
    runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    print("| report | rows | riskd s | pandas+scipy s | ratio | riskd CPU s | pandas+scipy CPU s "
          "| riskd peak RSS | pandas+scipy peak RSS |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for case, title in (("drift", "riskd drift (PSI, KS, missing: score + 13 inputs)"),
                        ("ab", "riskd ab (z, Welch t, Holm, SRM + outcomes join)")):
        r = [x for x in runs if x["case"] == case and x["side"] == "riskd"]
        p = [x for x in runs if x["case"] == case and x["side"] == "peer"]
        if not r or not p:
            continue
        rs, ps = [x["seconds"] for x in r], [x["seconds"] for x in p]
        rc = [x["cpu_seconds"] for x in r if x.get("cpu_seconds") is not None]
        pc = [x["cpu_seconds"] for x in p if x.get("cpu_seconds") is not None]
        # a round's ratio: both sides ran within it, on one state of the machine
        ratios = [b["seconds"] / a["seconds"] for a, b in zip(sorted(r, key=lambda x: x["round"]),
                                                               sorted(p, key=lambda x: x["round"]))]
        rt = "%.1fx" % statistics.median(ratios)
        if len(ratios) > 1:
            rt += " [%.1f-%.1f]" % (min(ratios), max(ratios))
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            title, "{:,}".format(r[0]["rows"]), fmt_s(rs), fmt_s(ps), rt,
            "%.2f" % statistics.median(rc) if rc else "-", "%.2f" % statistics.median(pc) if pc else "-",
            fmt_mb([x.get("rss_kb") for x in r]), fmt_mb([x.get("rss_kb") for x in p])))


if __name__ == "__main__":
    main()
