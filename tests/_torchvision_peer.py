"""The torchvision side of the equivalence tests, in its own process.

torchvision cannot be imported after TensorFlow in one process (it crashes), so the tests run this
script as a worker: it imports only torch and torchvision, and answers one request per line on
stdin, a JSON object::

    {"model": "vgg16", "path": ".../vgg16-397923af.pth", "x": ".../x.npy", "logits": ".../y.npy",
     "seed": 3, "num_classes": 1000, "features": false}

It builds torchvision's own model with random weights and random BatchNorm statistics, saves its
state dict with ``torch.save`` at ``path`` (torchvision's published format), and, if ``x`` is given
(NHWC images, preprocessed), writes the model's logits in eval mode to ``logits`` (with
``features``, the output of the layers before the classifier, NHWC). It answers one
JSON line: {"ok": true} or {"error": "..."}.
"""

import json
import sys

import numpy as np
import torch
import torchvision

torch.set_num_threads(2)


def peer(name: str, seed: int, num_classes: int):
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None, num_classes=num_classes)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def serve() -> None:
    print(json.dumps({"ready": torchvision.__version__}), flush=True)
    for line in sys.stdin:
        try:
            req = json.loads(line)
            model = peer(req["model"], req.get("seed", 3), req.get("num_classes", 1000))
            torch.save(model.state_dict(), req["path"])
            if req.get("x"):
                x = np.load(req["x"])
                # "features": the network without its classifier (a ResNet's last stage, before the
                # pool; VGG's and AlexNet's `features`), channels last as Keras gives them
                net = (model if not req.get("features") else model.features if hasattr(model, "features")
                       else torch.nn.Sequential(*list(model.children())[:-2]))
                with torch.no_grad():
                    y = net(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
                np.save(req["logits"], y if y.ndim == 2 else y.transpose(0, 2, 3, 1))
            print(json.dumps({"ok": True}), flush=True)
        except Exception as exc:  # reported to the test, which fails with it
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)


if __name__ == "__main__":
    serve()
