"""VNPost EMS (public-utility postal service, bưu chính công ích): orders to collect dossiers from
citizens and to return results, and the tracking feed back.

The adapter itself is written separately; ``adapters.post_ems.simulator`` is the simulator of the
outside system (see docs/simulators/vnpost.md).
"""
