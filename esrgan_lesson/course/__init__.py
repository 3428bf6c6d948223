"""The course's chapter helpers: everything here exists for the book, nothing in the core imports it.

- :mod:`.scale`: the ``lesson``/``paper`` switch (:func:`~.scale.run_scale`, :func:`~.scale.pick`),
  the device, seeding, timing and budgets;
- :mod:`.display`: figures and package source shown in the chapters;
- one module (or package) per chapter topic: :mod:`.sr_problem` (1), :mod:`.analysis` and
  :mod:`.experiments` (2-3), :mod:`.toy_gan` (4), :mod:`.texture` (5), :mod:`.explorer` (6),
  :mod:`.recipe` and :mod:`.gpus` (7), :mod:`.perception` (8),
  :mod:`.pretrained_demo` (1, 3, 8);
- :mod:`.notebooks`: stamping and executing the chapters (``python -m esrgan_lesson.course.notebooks``).
"""
