"""Figures for docs/RELIABILITY.md: what ordinary users see while the server is under attack.

``python -m tcpchat.bench.abuse`` starts a fresh server (default limits) for each phase, lets ten
ordinary users chat at a human pace (1.5 lines a second each, under the flood limit) and measures
the latency and loss of their messages, the server's peak memory, the sockets it holds and the
growth of its log, first alone and then while one kind of attacker works: flooders, clients that
never read, connection storms, slowloris and silent (TLS) connections, cheap-line floods, bursts,
look-alike names, log filling, password guessing, confirmations of messages then thrown away.
Each phase is judged against the targets of issue 11. Every loop is bounded by the phase's length
and by counts; all traffic stays on 127.0.0.0/8.

Modules: ``cli`` (options, writing the section), ``catalogue`` (the phases), ``runner`` (one
phase), ``users`` (the ordinary users), ``watch`` (the server's memory, sockets and log),
``table`` and ``targets`` (pure rendering and judging), ``counting`` (pure parsing), ``net``
(sockets), and one module per kind of attack.
"""
