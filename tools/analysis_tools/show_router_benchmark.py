# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Print a router benchmark's pooled table and reading from its
``summary.json`` (what ``router_benchmark.py`` printed at the end), without
training anything.

    python tools/analysis_tools/show_router_benchmark.py DIR/summary.json
"""
import argparse
import json
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('summary', help='summary.json of a benchmark run')
    args = parser.parse_args(argv)
    from mmdet_dynamic.apis import router_benchmark as bench
    try:
        with open(args.summary) as f:
            summary = json.load(f)
        table = bench.format_table(summary)
        lines = summary['reading']
    except (OSError, ValueError, KeyError) as e:
        print(f'error: {args.summary} is not a router benchmark summary '
              f'({type(e).__name__}: {e})', file=sys.stderr)
        return 1
    print(f'router benchmark: {summary["num_images"]} pooled held-out '
          f'images, {summary["settings"]["folds"]} folds, '
          f'{summary["bootstrap"]} bootstrap resamples')
    print(f'command: {summary["command"]}\n')
    print(table + '\n')
    for line in lines:
        print('- ' + line)
    return 0


if __name__ == '__main__':
    sys.exit(main())
