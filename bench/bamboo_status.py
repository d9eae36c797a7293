#!/usr/bin/env python3
"""bamboo's status path in Python, the baseline of bench workload 8.

Builds the State rows a Django query would return for a task of N nodes
(outside the timing), then times what bamboo-engine and bk-sops do with
them for get_task_status: get_pipeline_states(flat_children=False)
(one dict per row, children linked to parents), SOPS's formatting
(elapsed_time, "%Y-%m-%d %H:%M:%S %z" times, names), the envelope and
json.dumps. Prints the median, min and max milliseconds of RUNS runs and
the answer's bytes: "median min max bytes".

usage: bamboo_status.py N RUNS
"""
import datetime
import json
import sys
import time

TZ = datetime.timezone(datetime.timedelta(hours=8))


class State:
    """The fields of bamboo's State model that the answer uses."""

    def __init__(self, node_id, root_id, parent_id, version, t):
        self.node_id = node_id
        self.root_id = root_id
        self.parent_id = parent_id
        self.name = "FINISHED"
        self.version = version
        self.loop = 1
        self.retry = 0
        self.skip = False
        self.error_ignored = False
        self.created_time = t
        self.started_time = t
        self.archived_time = t + datetime.timedelta(milliseconds=3)


def rows(n):
    t = datetime.datetime(2024, 1, 1, 2, 0, 0, tzinfo=datetime.timezone.utc)
    out = [State("root", "root", "root", "v%032x" % 1, t)]
    for i in range(n - 1):
        out.append(State("a%d_%d" % (i // 10, i % 10), "root", "root",
                         "v%032x" % (i + 2), t))
    return out


def get_pipeline_states(states, root_id):
    """bamboo_engine.api.get_pipeline_states, flat_children=False."""
    root_state = None
    children = {}
    for s in states:
        if s.node_id != root_id:
            children[s.node_id] = {
                "id": s.node_id, "state": s.name, "root_id:": s.root_id,
                "parent_id": s.parent_id, "version": s.version,
                "loop": s.loop, "retry": s.retry, "skip": s.skip,
                "error_ignorable": s.error_ignored,
                "error_ignored": s.error_ignored,
                "created_time": s.created_time,
                "started_time": s.started_time,
                "archived_time": s.archived_time, "children": {},
            }
        else:
            root_state = s
    for node_id, state in children.items():
        if state["parent_id"] in children:
            children[state["parent_id"]]["children"][node_id] = state
    for node_id in list(children.keys()):
        if children[node_id]["parent_id"] != root_state.node_id:
            children.pop(node_id)
    return {root_state.node_id: {
        "id": root_state.node_id, "state": root_state.name,
        "root_id:": root_state.root_id, "parent_id": root_state.root_id,
        "version": root_state.version, "loop": root_state.loop,
        "retry": root_state.retry, "skip": root_state.skip,
        "error_ignorable": s.error_ignored, "error_ignored": s.error_ignored,
        "created_time": root_state.created_time,
        "started_time": root_state.started_time,
        "archived_time": root_state.archived_time, "children": children,
    }}


def fmt(t):
    return t.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S %z") if t else None


def format_status(node):
    """bk-sops' formatting of one node and, recursively, its children."""
    for child in node["children"].values():
        format_status(child)
    start, end = node.pop("started_time"), node.pop("archived_time")
    node.pop("created_time")
    node["elapsed_time"] = round((end - start).total_seconds()) if start and end else 0
    node["start_time"] = fmt(start)
    node["finish_time"] = fmt(end)
    node["name"] = ""


def answer(states):
    tree = get_pipeline_states(states, "root")["root"]
    format_status(tree)
    tree["name"] = "bench"
    return json.dumps({"result": True, "data": tree, "code": 0,
                       "message": "", "trace_id": "0" * 32})


def main():
    n, runs = int(sys.argv[1]), int(sys.argv[2])
    states = rows(n)
    answer(states)  # warm-up
    times, size = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        size = len(answer(states))
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    print("%.3f %.3f %.3f %d" % (times[len(times) // 2], times[0], times[-1], size))


if __name__ == "__main__":
    main()
