/* The decision record the log benches write (bench/log_bench.c, bench/store_log.c): a real
 * record of the credit example, ~1.1 KB, whose request id is the one %s. One copy, so that
 * both benches always measure the same bytes. */
#ifndef RISKD_BENCH_LOG_RECORD_H
#define RISKD_BENCH_LOG_RECORD_H

static const char record[] =
    "{\"v\":1,\"kind\":\"primary\",\"request_id\":\"%s\",\"ts_ms\":1796581771017,\"node\":\"bench\","
    "\"eval_time\":1796581771,\"context\":{\"targetingKey\":\"app-1004\",\"segment\":\"retail\"},"
    "\"features\":"
    "{\"Seniority\":9,\"Home\":\"rent\",\"Time\":60,\"Age\":30,\"Marital\":\"married\",\"Records\":\"no\","
    "\"Job\":\"freelance\",\"Expenses\":73,\"Income\":129,\"Assets\":0,\"Debt\":0,\"Amount\":800,\"Price\":"
    "846},"
    "\"flags\":{\"sha256\":\"6daaa22e83a46fc3c10bfebe90e56deec6971ea3729878b1cbd1352065f92d5b\",\"route_"
    "flag\":"
    "\"credit-model-route\",\"shadow_flag\":\"credit-model-shadow\",\"lenient\":false},\"routed\":true,"
    "\"variant\":\"champion\",\"route_reason\":\"TARGETING_MATCH\",\"bundle\":{\"name\":\"credit_xgb_v1.0\","
    "\"digest\":\"0f3a6d35e6c1b1f1a6e87f1d2c5b3a49e0c7d8b9a1f2e3d4c5b6a7980112233\"},\"source\":\"model\","
    "\"score\":0.14387990534305573,\"probability\":0.14387990534305573,\"risk_level\":\"low\",\"decision\":"
    "\"approve\",\"k\":4,\"reasons\":[{\"feature\":\"Price\",\"code\":\"Price\",\"impact\":0."
    "2813282012939453},"
    "{\"feature\":\"Assets\",\"code\":\"Assets\",\"impact\":0.21338093280792236},{\"feature\":\"Home\","
    "\"code\":"
    "\"Home\",\"impact\":0.1408500373363495},{\"feature\":\"Job\",\"code\":\"Job\",\"impact\":"
    "0.05905953049659729}],\"fallback\":null,\"shadows\":[\"credit_xgb_v1.1\"],\"latency_ms\":0.20424}";

#endif
