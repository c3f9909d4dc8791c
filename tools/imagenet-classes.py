"""Write zoo/data/imagenet_classes.tsv: index, WordNet id and name of the 1,000 ILSVRC-2012 classes.

    python tools/imagenet-classes.py SYNSETS_TXT > zoo/data/imagenet_classes.tsv

SYNSETS_TXT lists the 1,000 WordNet ids one per line in class order (sorted, the order of the
ImageNet folders and of every model's outputs; e.g. timm's data/_info/imagenet_synsets.txt);
the names are torchvision's curated short names (torchvision.models._meta, needs torchvision).
Run once; the file is committed, so the package needs neither at run time.
"""

import sys

from torchvision.models._meta import _IMAGENET_CATEGORIES as NAMES

ids = [line.strip() for line in open(sys.argv[1]) if line.strip()]
if len(ids) != 1000 or len(NAMES) != 1000 or ids != sorted(ids):
    sys.exit(f"expected 1,000 sorted WordNet ids and 1,000 names, got {len(ids)} and {len(NAMES)}")
print("# ILSVRC-2012 classes in model output order: index, WordNet id, name.")
print("# WordNet ids: the sorted ILSVRC-2012 synsets; names: torchvision's short class names.")
print("# Written by tools/imagenet-classes.py.")
for i, (wnid, name) in enumerate(zip(ids, NAMES)):
    print(f"{i}\t{wnid}\t{name}")
