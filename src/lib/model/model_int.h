/* Internals of the model module. */
#ifndef RISKD_MODEL_INT_H
#define RISKD_MODEL_INT_H

#include <stdint.h>

#include "riskd/model.h"

/* One node of a compiled tree, 16 bytes. Leaves have left < 0 and their output in value. */
typedef struct rd__xnode {
    int32_t left, right;
    uint32_t feature; /* RD__XNODE_DEFAULT_LEFT | RD__XNODE_CATEGORICAL | index */
    float value;      /* threshold, leaf output, or (categorical) index into cat_sets */
} rd__xnode;

#define RD__XNODE_DEFAULT_LEFT 0x80000000u
#define RD__XNODE_CATEGORICAL  0x40000000u
#define RD__XNODE_FEATURE_MASK 0x3fffffffu

typedef enum rd__transform {
    RD__T_IDENTITY,
    RD__T_SIGMOID,
    RD__T_EXP,
    RD__T_SOFTMAX,
    RD__T_ARGMAX,
    RD__T_HINGE,
} rd__transform;

typedef struct rd__catset {
    uint32_t first; /* into cats */
    uint32_t count;
} rd__catset;

struct rd_model {
    rd_model_kind kind;
    bool float32;
    char objective[48];
    rd__transform transform;
    size_t nfeat;
    char **feature_names; /* NULL or nfeat strings */
    size_t nout;          /* output groups */
    /* tree ensemble */
    rd__xnode *nodes;
    float *cover; /* per node: the training hessian sum (XGBoost sum_hessian), for TreeSHAP;
                     NULL when the model file has none */
    size_t ntrees;
    uint32_t *tree_root;  /* ntrees node offsets */
    uint32_t *tree_group; /* ntrees output groups */
    float *base_margin;   /* nout */
    int32_t *cats;        /* sorted category values of every categorical split */
    rd__catset *cat_sets;
    size_t ncat_sets;
    void *owned; /* one allocation holding the arrays above */
    /* LightGBM models: their own layout (lightgbm.c); NULL for the others */
    struct rd__lgbm *lgbm;
};

int rd__xgboost_load(const char *json, size_t len, rd_model **out, rd_err *err);
void rd__xgboost_predict(const rd_model *m, const double *x, rd_output kind, double *out);

struct rd__lgbm;
int rd__lightgbm_load(const char *text, size_t len, rd_model **out, rd_err *err);
void rd__lightgbm_predict(const rd_model *m, const double *x, rd_output kind, double *out);
/* LightGBM's pred_leaf: out receives, per tree (m->ntrees), the index of the leaf x reaches. */
void rd__lightgbm_leaves(const rd_model *m, const double *x, uint32_t *out);
void rd__lightgbm_free(struct rd__lgbm *g);

#endif
