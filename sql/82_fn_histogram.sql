-- requires: 0013_partition_by_run
-- evaltool.histogram and its two uses in reports: the latency of a run's responses and
-- the values of one metric of a run, counted into equal-width bins in the database.
CREATE OR REPLACE FUNCTION evaltool.histogram(vals double precision[], bins integer,
                                              lo double precision DEFAULT NULL,
                                              hi double precision DEFAULT NULL)
    RETURNS TABLE (bucket integer, low double precision, high double precision, n bigint)
    LANGUAGE sql IMMUTABLE AS
$$
WITH v AS (SELECT x FROM unnest(vals) x WHERE x IS NOT NULL),
     r AS (SELECT least(coalesce(histogram.lo, min(x)), min(x)) AS lo,
                  greatest(coalesce(histogram.hi, max(x)), max(x)) AS hi
           FROM v),
     -- One bin where every value is the same: width_bucket needs lo < hi.
     k AS (SELECT r.lo, r.hi, CASE WHEN r.hi > r.lo THEN greatest(bins, 1) ELSE 1 END AS k
           FROM r WHERE r.lo IS NOT NULL),
     c AS (SELECT CASE WHEN k.k = 1 THEN 1 ELSE least(width_bucket(v.x, k.lo, k.hi, k.k), k.k) END
                      AS bucket,
                  count(*) AS n
           FROM v CROSS JOIN k GROUP BY 1)
SELECT g.i, k.lo + (k.hi - k.lo) * (g.i - 1) / k.k, k.lo + (k.hi - k.lo) * g.i / k.k,
       coalesce(c.n, 0)
FROM k CROSS JOIN generate_series(1, k.k) AS g(i)
LEFT JOIN c ON c.bucket = g.i
ORDER BY g.i
$$;

COMMENT ON FUNCTION evaltool.histogram(double precision[], integer, double precision, double precision) IS
    'Counts VALS (NULLs left out) into BINS equal-width bins from LO to HI (each widened to the smallest and largest value; by default exactly those), empty bins included; the last bin includes its upper edge. One bin where all values are equal; no rows without values.';

CREATE OR REPLACE FUNCTION evaltool.latency_histogram(run_id bigint, bins integer DEFAULT 20)
    RETURNS TABLE (bucket integer, low double precision, high double precision, n bigint)
    LANGUAGE sql STABLE AS
$$
SELECT h.*
FROM (SELECT array_agg(x.latency_ms) AS vals FROM evaltool.response x
      WHERE x.run_id = latency_histogram.run_id AND x.status = 'ok') a
CROSS JOIN LATERAL evaltool.histogram(a.vals, bins) h
$$;

COMMENT ON FUNCTION evaltool.latency_histogram(bigint, integer) IS
    'Latency in milliseconds of the run''s ok responses, counted into BINS equal-width bins from the fastest to the slowest.';

CREATE OR REPLACE FUNCTION evaltool.score_histogram(run_id bigint, metric text,
                                                    bins integer DEFAULT 20)
    RETURNS TABLE (bucket integer, low double precision, high double precision, n bigint)
    LANGUAGE sql STABLE AS
$$
SELECT h.*
FROM (SELECT array_agg(s.value) AS vals FROM evaltool.response x
      JOIN evaltool.score s ON s.run_id = x.run_id AND s.response_id = x.id
      WHERE x.run_id = score_histogram.run_id AND s.metric = score_histogram.metric) a
CROSS JOIN LATERAL evaltool.histogram(a.vals, bins, 0, 1) h
$$;

COMMENT ON FUNCTION evaltool.score_histogram(bigint, text, integer) IS
    'Values of one metric of the run counted into BINS equal-width bins over 0..1, widened to the smallest and largest value where they lie outside.';
