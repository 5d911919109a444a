-- One random 1024-bp window of chr20 (61,549 windows) by its start: 1 row.
\set w random(0, 61548)
\set s :w * 1024
SELECT chrom, start, "end", region, gc, n_frac, softmask_frac FROM windows WHERE chrom = '20' AND start = :s;
