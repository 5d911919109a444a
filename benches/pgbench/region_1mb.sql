-- All windows inside a random 1 Mb region of chr20: ~976 rows.
\set s random(0, 62025520)
\set e :s + 1000000
SELECT chrom, start, "end", region, gc, n_frac, softmask_frac FROM windows WHERE chrom = '20' AND start >= :s AND "end" <= :e;
