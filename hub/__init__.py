"""lienthong: the interoperability hub (trục liên thông) core."""
