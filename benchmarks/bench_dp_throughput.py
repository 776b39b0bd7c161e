"""DP versus non-private training throughput of the default text recipe (one run, same model, data and batch).

Measures samples/s of: (1) LoRA r=16 on query/value + head, non-private; (2) the same with Opacus DP-SGD
(hooks, Poisson sampling); (3) non-private full fine-tuning. MiniLM-L6, batch 32, sequence 64, 2 torch threads
on CPU (CUDA automatically when present). Goal: (2)/(1) >= 0.9 and (2) faster than (3).

Reproduce:  .venv/bin/python benchmarks/bench_dp_throughput.py [--steps 12] [--rows 640]
Quick ratio only (issue 19):  ... --configs lora_nonprivate,lora_dp --steps 6
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=12, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rows", type=int, default=640)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved passes over the three configurations")
    parser.add_argument(
        "--configs",
        default="lora_nonprivate,lora_dp,full_nonprivate",
        help="which of the three to run (full fine-tuning is the slowest; leave it out for a quick ratio)",
    )
    args = parser.parse_args()
    wanted = [c.strip() for c in args.configs.split(",") if c.strip()]

    import torch

    from workbench.core.train.loop import configure_torch_threads, resolve_device
    from workbench.core.train.tasks import TextModelConfig, TrainConfig
    from workbench.core.train.text_model import TextClassificationTask

    configure_torch_threads(args.threads)
    device = resolve_device("auto")
    import pyarrow as pa

    rng = torch.Generator().manual_seed(0)
    words = [
        "the",
        "patient",
        "reports",
        "worsening",
        "cough",
        "and",
        "pain",
        "since",
        "last",
        "week",
        "stable",
        "improved",
        "resolved",
        "severe",
    ]
    texts = [
        " ".join(words[int(i)] for i in torch.randint(len(words), (args.seq,), generator=rng)) for _ in range(args.rows)
    ]
    table = pa.table({"text": texts, "label": [str(i % 2) for i in range(args.rows)]})
    task = TextClassificationTask()

    def measure(recipe: str, private: bool) -> float:
        cfg = TrainConfig(
            task="text",
            label_column="label",
            text_column="text",
            private=private,
            batch_size=args.batch,
            text=TextModelConfig(recipe=recipe, max_length=args.seq),
        )
        data = task.prepare(cfg, table)
        bundle = task.build_model(cfg, data)
        model = bundle.model.to(device)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4)
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(*data.train), batch_size=args.batch, shuffle=True
        )
        if private:
            from opacus import PrivacyEngine

            model, opt, loader = PrivacyEngine().make_private(
                module=model,
                optimizer=opt,
                data_loader=loader,
                noise_multiplier=1.0,
                max_grad_norm=1.0,
                poisson_sampling=True,
            )
        crit = torch.nn.CrossEntropyLoss()
        done, seen, elapsed = 0, 0, 0.0
        while done < args.warmup + args.steps:
            for batch in loader:
                batch = tuple(t.to(device) for t in batch)
                t0 = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                loss = crit(bundle.forward(model, batch[:-1]), batch[-1])
                loss.backward()
                opt.step()
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                if done >= args.warmup:
                    elapsed += time.perf_counter() - t0
                    seen += int(batch[-1].shape[0])
                done += 1
                if done >= args.warmup + args.steps:
                    break
        return seen / elapsed

    kinds = {"lora_nonprivate": ("lora", False), "lora_dp": ("lora", True), "full_nonprivate": ("full", False)}
    results: dict[str, list[float]] = {k: [] for k in kinds if k in wanted}
    for _ in range(args.rounds):
        for key in results:
            results[key].append(measure(*kinds[key]))
    best = {k: max(v) for k, v in results.items()}
    out = {
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "batch": args.batch,
        "seq": args.seq,
        "timed_steps": args.steps,
        "samples_per_second": {k: [round(x, 1) for x in v] for k, v in results.items()},
        "ratio_dp_over_lora_nonprivate": (
            round(best["lora_dp"] / best["lora_nonprivate"], 3) if {"lora_dp", "lora_nonprivate"} <= set(best) else None
        ),
        "dp_faster_than_full_finetuning": (
            best["lora_dp"] > best["full_nonprivate"] if {"lora_dp", "full_nonprivate"} <= set(best) else None
        ),
        "command": "benchmarks/bench_dp_throughput.py " + " ".join(f"--{k} {v}" for k, v in vars(args).items()),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
