"""Federated DP training on Flower (issue 15): sites train together without sharing rows.

- :mod:`.plan`: the plan every site sees before it trains, and the site checks (label, columns, label values);
- :mod:`.site_data`: a site's rows encoded with the plan's schema and its own statistics;
- :mod:`.local`: one round of local DP-SGD (Opacus) with the site's accountant history carried across rounds;
- :mod:`.client_app` / :mod:`.server_app`: the Flower apps (legacy stack: NumPyClient, FedAvg,
  ``DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(...))``);
- :mod:`.daemons`: SuperLink, SuperNodes and ``flwr run`` as process groups on 127.0.0.1, always torn down.

Qt-free. flwr and torch are imported by the app modules and inside functions, never by ``workbench.core``'s import.
"""
