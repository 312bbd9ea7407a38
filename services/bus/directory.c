/*  directory: the Majordomo broker's tables (see directory.h). */
#include "directory.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t
s_identity_hash (const void *identity, size_t size)
{
    //  FNV-1a: routing ids are short and chosen by ZeroMQ or by the peer; both are fine here.
    const uint8_t *bytes = identity;
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < size; i++)
        hash = (hash ^ bytes[i]) * 16777619u;
    return hash % BUS_WORKER_BUCKETS;
}

bus_service_t *
bus_service_find (bus_directory_t *dir, const char *name)
{
    assert (dir && name);
    for (bus_service_t *service = dir->services; service; service = service->next)
        if (strcmp (service->name, name) == 0)
            return service;
    return NULL;
}

bus_service_t *
bus_service_require (bus_directory_t *dir, const char *name)
{
    assert (strlen (name) <= SQ_MDP_SERVICE_MAX);
    bus_service_t *service = bus_service_find (dir, name);
    if (service)
        return service;
    if (dir->service_count >= BUS_SERVICES_MAX)
        return NULL;
    service = calloc (1, sizeof *service);
    if (!service)
        return NULL;
    snprintf (service->name, sizeof service->name, "%s", name);
    if (dir->services_tail)
        dir->services_tail->next = service;
    else
        dir->services = service;
    dir->services_tail = service;
    dir->service_count++;
    return service;
}

void
bus_service_sweep (bus_directory_t *dir)
{
    bus_service_t **link = &dir->services;
    dir->services_tail = NULL;
    while (*link) {
        bus_service_t *service = *link;
        if (service->worker_count == 0 && service->queued == 0) {
            assert (!service->waiting_head && !service->queue_head);
            *link = service->next;
            dir->service_count--;
            free (service);
        } else {
            dir->services_tail = service;
            link = &service->next;
        }
    }
}

void
bus_service_enqueue (bus_service_t *service, bus_request_t *request)
{
    assert (service && request && !request->next);
    if (service->queue_tail)
        service->queue_tail->next = request;
    else
        service->queue_head = request;
    service->queue_tail = request;
    service->queued++;
}

void
bus_service_requeue_first (bus_service_t *service, bus_request_t *request)
{
    assert (service && request && !request->next);
    request->next = service->queue_head;
    service->queue_head = request;
    if (!service->queue_tail)
        service->queue_tail = request;
    service->queued++;
}

bus_request_t *
bus_service_dequeue (bus_service_t *service)
{
    bus_request_t *request = service->queue_head;
    if (!request)
        return NULL;
    service->queue_head = request->next;
    if (!service->queue_head)
        service->queue_tail = NULL;
    request->next = NULL;
    service->queued--;
    return request;
}

void
bus_service_wait (bus_service_t *service, bus_worker_t *worker)
{
    assert (worker->service == service && !worker->waiting && !worker->request);
    worker->wait_prev = service->waiting_tail;
    worker->wait_next = NULL;
    if (service->waiting_tail)
        service->waiting_tail->wait_next = worker;
    else
        service->waiting_head = worker;
    service->waiting_tail = worker;
    worker->waiting = true;
    service->waiting_count++;
}

static void
s_worker_unwait (bus_worker_t *worker)
{
    bus_service_t *service = worker->service;
    if (!worker->waiting)
        return;
    if (worker->wait_prev)
        worker->wait_prev->wait_next = worker->wait_next;
    else
        service->waiting_head = worker->wait_next;
    if (worker->wait_next)
        worker->wait_next->wait_prev = worker->wait_prev;
    else
        service->waiting_tail = worker->wait_prev;
    worker->wait_prev = worker->wait_next = NULL;
    worker->waiting = false;
    service->waiting_count--;
}

bus_worker_t *
bus_service_next_waiting (bus_service_t *service)
{
    bus_worker_t *worker = service->waiting_head;
    if (worker)
        s_worker_unwait (worker);
    return worker;
}

bus_worker_t *
bus_worker_find (bus_directory_t *dir, const void *identity, size_t size)
{
    bus_worker_t *worker = dir->buckets[s_identity_hash (identity, size)];
    for (; worker; worker = worker->hash_next)
        if (worker->identity_size == size && memcmp (worker->identity, identity, size) == 0)
            return worker;
    return NULL;
}

bus_worker_t *
bus_worker_add (bus_directory_t *dir, bus_service_t *service, const void *identity,
                size_t size, int64_t expiry_ms)
{
    assert (size > 0 && size <= BUS_IDENTITY_MAX);
    assert (!bus_worker_find (dir, identity, size));
    if (dir->worker_count >= BUS_WORKERS_MAX)
        return NULL;
    bus_worker_t *worker = calloc (1, sizeof *worker);
    if (!worker)
        return NULL;
    memcpy (worker->identity, identity, size);
    worker->identity_size = size;
    for (size_t i = 0; i < size && 2 * i + 2 < sizeof worker->id_text; i++)
        snprintf (worker->id_text + 2 * i, 3, "%02x", worker->identity[i]);
    worker->service = service;
    worker->expiry_ms = expiry_ms;
    size_t bucket = s_identity_hash (identity, size);
    worker->hash_next = dir->buckets[bucket];
    dir->buckets[bucket] = worker;
    worker->all_next = dir->workers;
    if (dir->workers)
        dir->workers->all_prev = worker;
    dir->workers = worker;
    dir->worker_count++;
    service->worker_count++;
    return worker;
}

bus_request_t *
bus_worker_remove (bus_directory_t *dir, bus_worker_t *worker)
{
    assert (dir && worker);
    s_worker_unwait (worker);
    bus_worker_t **link = &dir->buckets[s_identity_hash (worker->identity, worker->identity_size)];
    while (*link != worker)
        link = &(*link)->hash_next;
    *link = worker->hash_next;
    if (worker->all_prev)
        worker->all_prev->all_next = worker->all_next;
    else
        dir->workers = worker->all_next;
    if (worker->all_next)
        worker->all_next->all_prev = worker->all_prev;
    dir->worker_count--;
    worker->service->worker_count--;
    bus_request_t *request = worker->request;
    free (worker);
    return request;
}

bus_request_t *
bus_request_new (const void *client, size_t client_size, zmq_msg_t *body)
{
    assert (client_size > 0 && client_size <= BUS_IDENTITY_MAX);
    bus_request_t *request = calloc (1, sizeof *request);
    if (!request)
        return NULL;
    memcpy (request->client, client, client_size);
    request->client_size = client_size;
    zmq_msg_init (&request->body);
    zmq_msg_move (&request->body, body);
    return request;
}

void
bus_request_destroy (bus_request_t **request_p)
{
    assert (request_p);
    bus_request_t *request = *request_p;
    if (!request)
        return;
    zmq_msg_close (&request->body);
    free (request);
    *request_p = NULL;
}

void
bus_directory_clear (bus_directory_t *dir)
{
    assert (dir);
    while (dir->workers) {
        bus_request_t *request = bus_worker_remove (dir, dir->workers);
        bus_request_destroy (&request);
    }
    for (bus_service_t *service = dir->services; service; service = service->next) {
        bus_request_t *request;
        while ((request = bus_service_dequeue (service)))
            bus_request_destroy (&request);
    }
    bus_service_sweep (dir);
    assert (dir->service_count == 0 && dir->worker_count == 0);
}
