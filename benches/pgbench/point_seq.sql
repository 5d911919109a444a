-- One random 1024-bp window of chr20 with its sequence (1 row, ~1.1 kB).
\set w random(0, 61548)
\set s :w * 1024
SELECT chrom, start, "end", region, seq, gc FROM windows WHERE chrom = '20' AND start = :s;
