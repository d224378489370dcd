/* version.h — the one place kefu's version lives. */
#ifndef KF_VERSION_H
#define KF_VERSION_H
#define KF_VERSION "0.1.0"
#endif
