"""The machinery under the lessons: what runs them, not what they teach.

No lesson needs to read these to follow the paper; each is reached through a core function (the
model cache through ``train.train_learner``, the device and precision through ``train.fit``), and
the lessons import only ``runtime.describe_runtime`` (their first cell's banner) and ``throughput``
(lessons 05 and 06 time training). By height (``tests/test_layers.py``):

- foundations, importing nothing of the package: ``_checks`` (input validation), ``paths`` (data
  and cache folders, atomic writes), ``memory`` (batch sizes whose memory is known in advance),
  ``progress`` (bars on stderr), ``runtime`` (the device, the training precision, the banner);
- the model cache, above the networks: ``checkpoint`` (save, validated load, load-or-train),
  ``pretrained`` (the cache filled from one archive named by ``ANW_PRETRAINED``);
- timing, above training: ``precision_probe`` (a CPU's fp32 and bf16 training rates, measured once
  and cached; the package hands it to ``runtime``), ``throughput`` (training images per second).
"""
