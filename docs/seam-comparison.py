import sys, re, glob, statistics, collections
pat = re.compile(r'^  (\S.*?)\s{2,}([\d,\.]+) (\S+.*)$')
data = collections.defaultdict(lambda: collections.defaultdict(list))  # (bench,label) -> side -> [values]
units = {}
order = []
for f in sorted(glob.glob(sys.argv[1] + '/*.out' if len(sys.argv) > 1 else '*.out')):
    side, bench, i = f.split('/')[-1].split('.')[:3]
    txt = open(f).read()
    if bench == 'quick':
        m = re.search(r'over [\d\.]+ s = (\d+) events/s', txt)
        vals = {'events/s': (float(m.group(1)), 'events/s')} if m else {}
        m = re.search(r'  append\s+p50 ([\d\.]+) ms\s+p90 [\d\.]+ ms\s+p99 ([\d\.]+) ms', txt)
        if m:
            vals['append p50'] = (float(m.group(1)), 'ms'); vals['append p99'] = (float(m.group(2)), 'ms')
        m = re.search(r'peak RSS (\d+) MiB', txt)
        if m: vals['peak RSS'] = (float(m.group(1)), 'MiB')
        ok = 'PASSED' in txt
        vals['passed'] = (1.0 if ok else 0.0, '')
        for k, (v, u) in vals.items():
            key = (bench, k); data[key][side].append(v); units[key] = u
            if key not in order: order.append(key)
        continue
    for line in txt.split('\n'):
        if line.startswith('Sourcery'): break
        m = pat.match(line)
        if not m: continue
        label, v, u = m.group(1).strip(), float(m.group(2).replace(',', '')), m.group(3).strip()
        key = (bench, label); data[key][side].append(v); units[key] = u
        if key not in order: order.append(key)
print('| benchmark | measurement | old median [min–max] | new median [min–max] | new/old (median of pairs) | runs |')
print('|---|---|---|---|---|---|')
for key in order:
    o, n = data[key]['old'], data[key]['new']
    if not o or not n: 
        print(f'| {key[0]} | {key[1]} | {"–" if not o else statistics.median(o)} | {"–" if not n else statistics.median(n)} | only one side | |'); continue
    ratios = [b / a for a, b in zip(o, n) if a]
    fmt = lambda x: f'{x:,.0f}' if x >= 100 else f'{x:,.2f}'
    print(f'| {key[0]} | {key[1]} ({units[key]}) | {fmt(statistics.median(o))} [{fmt(min(o))}–{fmt(max(o))}] | {fmt(statistics.median(n))} [{fmt(min(n))}–{fmt(max(n))}] | {statistics.median(ratios):.2f} | {len(o)}/{len(n)} |')
