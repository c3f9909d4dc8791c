"""The builders, one module per family; each builder is a function named like its card
(``zoo.families.vgg.vgg16``), reached as ``zoo.vgg16`` or ``zoo.build("vgg16")``."""
