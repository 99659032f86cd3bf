import json, os, shutil, sys
# Runs trained from absolute experiment paths (their schema path spelled absolutely) re-keyed under
# the hash the same config has when named from the repository root (see commit dc68c7e).
moves = {
    ("seq-ml100k-dreamrec", "c1276dd00a017a1c"): "a502820407a0a840",
    ("seq-ml100k-preferdiff", "a5e4c41e09e9a813"): "c581a229c4a1a002",
    ("seq-ml100k-sasrec", "4b9a4aa4321e4163"): "b3547d51fea38cd7",
    ("seq-ml100k-dimerec", "c5e8f85547ca6244"): "64157d2a2f890820",
}
src_root = "runs/seq-ml100k-compare"
targets = sys.argv[1:]
for (label, old), new in moves.items():
    d = os.path.join(src_root, label)
    if not os.path.isdir(d): continue
    if old is None: continue
    od = os.path.join(d, old)
    if not os.path.isdir(od): continue
    for seed in sorted(os.listdir(od)):
        sd = os.path.join(od, seed)
        if not os.path.exists(os.path.join(sd, "results.json")): continue
        for t in targets:
            dst = os.path.join(t, label, new, seed)
            if os.path.exists(os.path.join(dst, "results.json")):
                print("keep", dst); continue
            os.makedirs(dst, exist_ok=True)
            r = json.load(open(os.path.join(sd, "results.json")))
            r["config_hash"] = new
            json.dump(r, open(os.path.join(dst, "results.json"), "w"), indent=2)
            c = open(os.path.join(sd, "config.resolved.toml")).read().replace('"/work/main/configs/', '"configs/')
            open(os.path.join(dst, "config.resolved.toml"), "w").write(c)
            shutil.copy(os.path.join(sd, "log.jsonl"), os.path.join(dst, "log.jsonl"))
            print("moved", sd, "->", dst)
