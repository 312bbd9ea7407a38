/*  directory: the Majordomo broker's tables — services, their workers and queued requests.

    Pure bookkeeping with no I/O: majordomo.c decides what to send. Every table is bounded
    (BUS_SERVICES_MAX, BUS_WORKERS_MAX, the caller's queue_max), so no peer can make the
    broker hold more than those limits times the message size. */
#ifndef BUS_DIRECTORY_H
#define BUS_DIRECTORY_H

#include "shequ.h"

#include <stdbool.h>

#define BUS_IDENTITY_MAX 255     //  longest ROUTER routing id, bytes (ZMTP limit)
#define BUS_SERVICES_MAX 1024    //  services known at once
#define BUS_WORKERS_MAX 8192     //  workers connected at once
#define BUS_WORKER_BUCKETS 1024  //  hash buckets for worker lookup by identity
#define BUS_ID_TEXT_SIZE 24      //  hex of a routing id for logs (truncated), with terminator

typedef struct bus_request bus_request_t;
typedef struct bus_worker bus_worker_t;
typedef struct bus_service bus_service_t;

struct bus_request {
    zmq_msg_t body;                    //  request body, one frame
    uint8_t client[BUS_IDENTITY_MAX];  //  client's routing id
    size_t client_size;                //  bytes used in client
    int64_t deadline_ms;               //  while queued: answer `unavailable` after this
    int requeues;                      //  times put back after its worker was lost
    bus_request_t *next;               //  next in the service's queue
};

struct bus_worker {
    uint8_t identity[BUS_IDENTITY_MAX]; //  routing id on the ROUTER
    size_t identity_size;               //  bytes used in identity
    char id_text[BUS_ID_TEXT_SIZE];     //  identity as hex, for logs
    bus_service_t *service;             //  service it offers
    int64_t expiry_ms;                  //  taken for dead when silent past this
    bus_request_t *request;             //  request in flight, NULL while waiting or idle
    bool waiting;                       //  in service's waiting list
    bus_worker_t *wait_prev;            //  waiting list links
    bus_worker_t *wait_next;
    bus_worker_t *all_prev;             //  directory's list of every worker
    bus_worker_t *all_next;
    bus_worker_t *hash_next;            //  bucket chain
};

struct bus_service {
    char name[SQ_MDP_SERVICE_MAX + 1]; //  service name
    size_t worker_count;               //  workers offering it
    size_t waiting_count;              //  of those, waiting for a request
    bus_worker_t *waiting_head;        //  next worker to get a request (round robin)
    bus_worker_t *waiting_tail;
    size_t queued;                     //  requests in the queue
    bus_request_t *queue_head;         //  oldest request, first to go
    bus_request_t *queue_tail;
    bus_service_t *next;               //  directory's list of services
};

typedef struct {
    bus_service_t *services;                     //  every service, oldest first
    bus_service_t *services_tail;
    size_t service_count;
    bus_worker_t *workers;                       //  every worker
    size_t worker_count;
    bus_worker_t *buckets[BUS_WORKER_BUCKETS];   //  workers by identity
} bus_directory_t;

//  Empties a zeroed directory, freeing every service, worker and request.
void bus_directory_clear (bus_directory_t *dir);

//  The service of that name, NULL when unknown.
bus_service_t *bus_service_find (bus_directory_t *dir, const char *name);
//  The service of that name, created when unknown; NULL when BUS_SERVICES_MAX are known.
bus_service_t *bus_service_require (bus_directory_t *dir, const char *name);
//  Frees services with no worker and no queued request.
void bus_service_sweep (bus_directory_t *dir);

//  Request queue of a service, oldest first.
void bus_service_enqueue (bus_service_t *service, bus_request_t *request);
void bus_service_requeue_first (bus_service_t *service, bus_request_t *request);
bus_request_t *bus_service_dequeue (bus_service_t *service);

//  Waiting list: a worker that becomes free goes last, requests go to the first.
void bus_service_wait (bus_service_t *service, bus_worker_t *worker);
bus_worker_t *bus_service_next_waiting (bus_service_t *service);

//  The worker with that routing id, NULL when unknown.
bus_worker_t *bus_worker_find (bus_directory_t *dir, const void *identity, size_t size);
//  A new, idle worker of service; NULL when BUS_WORKERS_MAX are connected or out of memory.
bus_worker_t *bus_worker_add (bus_directory_t *dir, bus_service_t *service,
                              const void *identity, size_t size, int64_t expiry_ms);
//  Forgets and frees a worker; returns its request in flight (the caller's), or NULL.
bus_request_t *bus_worker_remove (bus_directory_t *dir, bus_worker_t *worker);

//  A request holding client's routing id; takes the body frame (moved). NULL when out of memory.
bus_request_t *bus_request_new (const void *client, size_t client_size, zmq_msg_t *body);
void bus_request_destroy (bus_request_t **request_p);

#endif
