"""The national document axis (Trục liên thông văn bản quốc gia, VXP/VDXP): adapter and simulator."""
