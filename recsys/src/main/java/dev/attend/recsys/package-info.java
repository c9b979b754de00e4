/**
 * Long-sequence recommendation (DARE). Today: behaviour data ({@link dev.attend.recsys.data}): importers
 * for Taobao UserBehavior and MovieLens into one event form, per-user time-ordered sequences, and DARE's
 * sample protocol. Models, training, evaluation and serving come next (issue 5).
 */
package dev.attend.recsys;
