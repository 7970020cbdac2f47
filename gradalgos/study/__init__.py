"""The comparison study: gradient alignment of the online methods against exact RTRL, their
cost, and (when present) their online-training results, into ``STUDY.md``.

``python -m gradalgos.study [--quick] [--out DIR]`` (``nox -s study``): the sweep
(:mod:`gradalgos.study.sweep`) writes ``alignment.json``; the figures
(:mod:`gradalgos.study.figures`) and the page (:mod:`gradalgos.study.page`) are drawn from it
alone (``--replot`` redraws them without measuring).
"""
