-- region_1mb.sql with the redundant bound start < :e (end > start, so the rows
-- are the same): it lets PostgreSQL's planner see a narrow range on the
-- (chrom, start) index; without it PostgreSQL estimates ~16k rows and scans
-- the table.
\set s random(0, 62025520)
\set e :s + 1000000
SELECT chrom, start, "end", region, gc, n_frac, softmask_frac FROM windows WHERE chrom = '20' AND start >= :s AND start < :e AND "end" <= :e;
